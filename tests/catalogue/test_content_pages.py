"""The breeder's own pages (about, parents, FAQ, terms, privacy, imprint): written in the back
office in Markdown, shown safely, linked from every page's footer."""

import io
import re
from html import unescape

import pytest
from django.urls import reverse
from PIL import Image

from kennel.catalogue.models import Dog, DogPhoto, Litter, Page
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db

KINDS = ["about", "faq", "terms", "privacy", "imprint"]
ATTACK = """\
# Welcome

<script>alert("owned")</script>

<img src=x onerror=alert(1)>

[a trap](javascript:alert(1)) and [our vet](https://vet.example/)
"""


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("kind", KINDS)
def test_each_page_renders_the_breeders_markdown(client, kind):
    Page.objects.create(
        kind=kind, title="In our words", body="We **love** dogs.\n\n- walks\n- naps"
    )

    page = client.get(f"/{kind}/")

    assert page.status_code == 200
    main = _main(page.content.decode())
    assert "<h1" in main
    assert "In our words" in main
    assert "<strong>love</strong>" in main
    assert "<li>walks</li>" in main


@pytest.mark.parametrize("kind", KINDS)
def test_html_in_the_markdown_comes_out_as_harmless_text(client, kind):
    Page.objects.create(kind=kind, title="Hello", body=ATTACK)

    main = _main(client.get(f"/{kind}/").content.decode())

    assert "<script" not in main
    assert "&lt;script&gt;" in main  # shown as the text that was typed
    assert not re.search(r"<img[^>]*onerror", main)
    assert 'href="javascript:' not in unescape(main)  # the link is refused, left as text
    assert '<a href="https://vet.example/">our vet</a>' in main


def test_an_address_keeps_its_lines(client):
    Page.objects.create(kind="imprint", title="Imprint", body="Maple Hill\n12 chemin des Érables")

    main = _main(client.get("/imprint/").content.decode())

    assert "Maple Hill<br>" in main


def test_a_page_not_written_yet_is_a_404(client):
    assert client.get("/faq/").status_code == 404


def test_the_terms_page_shows_its_version(client):
    Page.objects.create(kind="terms", title="Deposit and refund terms", body="x", version="2025-2")

    html = client.get("/terms/").content.decode()

    assert "Version 2025-2" in html


def test_every_page_links_to_all_the_breeders_pages_in_its_footer(client):
    PuppyFactory(slug="honey")

    for url in ("/", "/puppies/honey/"):
        footer = client.get(url).content.decode().split('<footer id="contact"', 1)[1]
        for path in ("/about/", "/parents/", "/faq/", "/terms/", "/privacy/", "/imprint/"):
            assert f'href="{path}"' in footer, (url, path)


def test_a_staff_user_edits_a_page_in_the_back_office_and_buyers_see_it(client, admin_client):
    page = Page.objects.create(kind="about", title="About us", body="Old text.")
    url = reverse("admin:catalogue_page_change", args=[page.pk])
    assert admin_client.get(url).status_code == 200

    answer = admin_client.post(
        url,
        {
            "kind": "about",
            "title": "About Maple Hill",
            "body": "Three generations of *golden* retrievers.",
            "version": "",
        },
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    html = client.get("/about/").content.decode()
    assert "About Maple Hill" in html
    assert "Three generations of <em>golden</em> retrievers." in html
    assert "Old text." not in html


def _photo_upload(colour: str = "#b7732b"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), colour).save(buffer, "JPEG")
    return SimpleUploadedFile("maple.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_a_parent_added_in_the_back_office_shows_with_photo_health_tests_and_litters(
    client, admin_client, media
):
    answer = admin_client.post(
        reverse("admin:catalogue_dog_add"),
        {
            "name": "Willowbrook Maple",
            "slug": "maple",
            "sex": "female",
            "breed": "Golden Retriever",
            "born_on": "2020-04-01",
            "description": "Calm and *kind*.",
            "health_tests": "- Hips: BVA 4/5\n- Eyes: clear <script>x()</script>",
            "position": "0",
            "is_published": "on",
            "photos-TOTAL_FORMS": "1",
            "photos-INITIAL_FORMS": "0",
            "photos-MIN_NUM_FORMS": "0",
            "photos-MAX_NUM_FORMS": "1000",
            "photos-0-image": _photo_upload(),
            "photos-0-alt": "Maple in the garden",
            "photos-0-position": "1",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    maple = Dog.objects.get(slug="maple")
    (photo,) = maple.photos.all()
    # Through the photo pipeline: web sizes only, the upload itself not kept.
    assert [v["width"] for v in photo.variants] == [640, 960, 1200]
    assert photo.image.name.startswith("parents/")
    # A litter names her (by link here; another only by name): both are listed with her.
    linked = Litter.objects.create(
        name="Spring litter",
        dam="Willowbrook Maple",
        sire="Hunter",
        born_on="2025-03-01",
        dam_dog=maple,
    )
    PuppyFactory(slug="honey", name="Honey", litter=linked)
    Litter.objects.create(
        name="Old litter", dam="Willowbrook Maple", sire="Rex", born_on="2023-01-01"
    )

    html = client.get("/parents/").content.decode()

    main = _main(html)
    assert 'id="maple"' in main
    assert "Calm and <em>kind</em>." in main
    assert "<li>Hips: BVA 4/5</li>" in main
    assert "<script>x()" not in main
    assert 'alt="Maple in the garden"' in main
    assert photo.image.storage.url(photo.variants[0]["jpeg"]) in main
    assert "Spring litter" in main
    assert "Old litter" in main
    assert '<a href="/puppies/honey/">Honey</a>' in main
    assert maple.get_absolute_url() == "/parents/#maple"


def test_an_unpublished_parent_is_not_shown(client):
    Dog.objects.create(
        slug="gone", name="Retired Rosie", sex="female", breed="Golden", is_published=False
    )

    assert "Retired Rosie" not in client.get("/parents/").content.decode()


def test_a_replaced_parent_photo_gets_new_files_and_the_old_ones_go(
    media, django_capture_on_commit_callbacks
):
    from kennel.catalogue.content import parent_photo_process

    dog = Dog.objects.create(slug="moss", name="Highfell Moss", sex="male", breed="Border Collie")
    with django_capture_on_commit_callbacks(execute=True):
        photo = parent_photo_process(photo=DogPhoto(dog=dog, alt="Moss"), upload=_photo_upload())
    old = [media / v["jpeg"] for v in photo.variants]
    assert all(p.is_file() for p in old)

    with django_capture_on_commit_callbacks(execute=True):
        photo = parent_photo_process(photo=photo, upload=_photo_upload("#222222"))

    assert not any(p.exists() for p in old)
    assert all((media / v["jpeg"]).is_file() for v in photo.variants)
