"""`python -m kennel load_demo`: a believable shop in one command, safe to run again."""

from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from PIL import Image

from kennel.catalogue.models import Dog, DogPhoto, Litter, Page, Puppy, PuppyPhoto
from kennel.ops.demo.login import demo_login_ensure
from kennel.reservations.models import Reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "litters": Litter.objects.count(),
        "puppies": Puppy.objects.count(),
        "photos": PuppyPhoto.objects.count(),
        "reservations": Reservation.objects.count(),
        "pages": Page.objects.count(),
        "parents": Dog.objects.count(),
        "parent photos": DogPhoto.objects.count(),
    }


def test_load_demo_creates_litters_puppies_photos_and_paid_reservations(media):
    summary = _load()

    assert "17 puppies added" in summary
    # One line of what was loaded, and one with the back office's demo login.
    assert summary.splitlines()[1].startswith("Back office login: user breeder")
    assert Litter.objects.count() >= 3
    assert Puppy.objects.count() >= 12
    assert set(Puppy.objects.values_list("breed", flat=True)) >= {
        "Golden Retriever",
        "Border Collie",
        "Cavalier King Charles Spaniel",
    }
    for puppy in Puppy.objects.all():
        assert 1500 <= puppy.price <= 3500
        assert 0 < puppy.deposit < puppy.price
        assert 1 <= puppy.photos.count() <= 2


def test_demo_photos_are_small_jpegs_in_media_root_with_alt_text(media):
    _load()

    for photo in PuppyPhoto.objects.all():
        path = media / photo.image.name
        data = path.read_bytes()
        assert len(data) <= 30_000
        image = Image.open(BytesIO(data))
        assert image.format == "JPEG"
        assert image.size == (640, 480)
        assert photo.puppy.name in photo.alt


def test_demo_reserved_and_sold_puppies_have_the_reservation_the_payment_would_leave(media):
    _load()

    reserved = Puppy.objects.filter(status=Puppy.Status.RESERVED)
    sold = Puppy.objects.filter(status=Puppy.Status.SOLD)
    assert reserved.exists()
    assert sold.exists()
    for puppy in reserved:
        (reservation,) = puppy.reservations.all()
        assert reservation.status == Reservation.Status.CONFIRMED
        assert reservation.external_payment_id.startswith("pi_demo_")
        assert reservation.provider_reference.startswith("cs_demo_")
        assert reservation.provider == Reservation.Provider.STRIPE
        assert reservation.deposit_amount == puppy.deposit
    for puppy in sold:
        (reservation,) = puppy.reservations.all()
        assert reservation.status == Reservation.Status.COMPLETED
    assert not Reservation.objects.filter(puppy__status=Puppy.Status.AVAILABLE).exists()


def test_load_demo_twice_changes_nothing(media):
    _load()
    before = _counts()
    files_before = sorted(p.name for p in media.rglob("*.jpg"))

    summary = _load()

    assert _counts() == before
    assert sorted(p.name for p in media.rglob("*.jpg")) == files_before
    assert "0 puppies added" in summary
    assert "0 pages and 0 parents added" in summary


def test_load_demo_again_after_the_breeder_renamed_a_litter_changes_nothing(media):
    """Tried: after renaming a demo litter in the back office, `make run` stopped at
    load_demo (the litter's address was taken) and the shop did not start."""
    _load()
    litter = Litter.objects.order_by("pk").first()
    assert litter is not None
    Litter.objects.filter(pk=litter.pk).update(name="Our spring litter")
    before = _counts()

    _load()

    assert _counts() == before
    assert Litter.objects.get(pk=litter.pk).name == "Our spring litter"


def test_load_demo_reuses_photo_files_left_from_an_earlier_database(media):
    _load()
    files_before = sorted(p.name for p in media.rglob("*.jpg"))
    Reservation.objects.all().delete()
    PuppyPhoto.objects.all().delete()
    Puppy.objects.all().delete()
    DogPhoto.objects.all().delete()
    Dog.objects.all().delete()

    _load()

    assert sorted(p.name for p in media.rglob("*.jpg")) == files_before
    puppy_files = list((media / "puppies").rglob("*.jpg"))
    assert PuppyPhoto.objects.count() == len(puppy_files)
    assert DogPhoto.objects.count() == len(list((media / "parents").rglob("*.jpg")))


def test_demo_catalogue_renders(media, client):
    _load()

    response = client.get("/")

    assert response.status_code == 200
    # The waiting-list litter's puppies are not offered one by one.
    assert len(response.context["puppies"]) == Puppy.objects.filter(is_published=True).count()
    assert Puppy.objects.filter(is_published=False).exists()


def test_load_demo_writes_every_page_and_the_parents_with_photos_linked_from_their_litters(
    media, client
):
    summary = _load()

    assert "6 pages and 7 parents added" in summary
    assert set(Page.objects.values_list("kind", flat=True)) == set(Page.Kind.values)
    assert Page.objects.get(kind="terms").version
    for litter in Litter.objects.all():
        assert litter.dam_dog is not None
        assert litter.dam_dog.name == litter.dam
        assert litter.sire_dog is not None
        assert litter.sire_dog.name == litter.sire
    for dog in Dog.objects.all():
        (photo,) = dog.photos.all()
        assert dog.name in photo.alt
        assert (media / photo.image.name).is_file()
        assert dog.health_tests
    for kind in Page.Kind.values:
        page = client.get(f"/{kind}/")
        assert page.status_code == 200, kind
    parents = client.get("/parents/").content.decode()
    assert "Willowbrook Maple" in parents
    assert "Health tests" in parents
    assert "/puppies/honey/" in parents  # her litter's puppies are linked
    # The demo's paid reservations carry the terms version they were "accepted" under.
    assert set(Reservation.objects.values_list("terms_version", flat=True)) == {
        Page.objects.get(kind="terms").version
    }


def test_the_demo_shows_the_breeders_contact_details_and_has_an_owner_address(media, client):
    from django.conf import settings

    _load()

    footer = client.get("/").content.decode()
    assert settings.OWNER_EMAIL  # sandbox mode: an example owner address
    assert f"mailto:{settings.BREEDER_EMAIL}" in footer
    assert settings.BREEDER_PHONE in footer


def _contact_settings(mode: str) -> list[str]:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"BREEDER_EMAIL", "BREEDER_PHONE"}}
    env.pop("OWNER_EMAIL", None)
    code = (
        "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'kennel.settings'; "
        "from django.conf import settings as s; "
        "print(json.dumps([s.BREEDER_EMAIL, s.BREEDER_PHONE, s.OWNER_EMAIL]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PAYMENTS_MODE": mode},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_example_contact_details_are_defaults_of_the_sandbox_only():
    assert all(_contact_settings("sandbox"))
    # Live mode keeps them empty: the go-live guard then asks for the real ones.
    assert _contact_settings("live") == ["", "", ""]


def test_the_sandbox_demo_gives_the_breeder_a_back_office_login_once(media, client):
    first = _load()

    line = next(x for x in first.splitlines() if x.startswith("Back office login:"))
    password = line.rpartition("password ")[2]
    login = client.post("/admin/login/?next=/admin/", {"username": "breeder", "password": password})
    assert login.status_code == 302
    assert client.get("/admin/").status_code == 200
    again = _load()
    assert "password was shown when it was made" in again
    assert password not in again
    assert get_user_model().objects.count() == 1


def test_no_demo_login_when_the_shop_has_its_own_or_is_live(media, settings):
    get_user_model().objects.create_superuser("owner", "owner@example.com", "a-long-password-1")

    assert "Back office login" not in _load()
    settings.PAYMENTS_MODE = "live"
    get_user_model().objects.all().delete()
    assert demo_login_ensure() == ""
    assert not get_user_model().objects.exists()


def test_load_demo_refuses_a_live_shop(settings, media):
    """Tried: in live mode it loaded 17 demo puppies and 4 reservations with made-up payments."""
    settings.PAYMENTS_MODE = "live"

    with pytest.raises(CommandError, match="sandbox mode only"):
        call_command("load_demo", stdout=StringIO())

    assert not Puppy.objects.exists()
