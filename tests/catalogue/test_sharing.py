"""A shared puppy link unfurls with its name, words and cover photo; search engines read its
price and availability (schema.org Product/Offer), one canonical address per page, and a
sitemap with the breeder's pages; browsers find an icon."""

import io
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image

from kennel.catalogue.images import photo_process
from kennel.catalogue.models import Dog, Page, Puppy, PuppyPhoto
from tests.factories import LitterFactory, PuppyFactory

pytestmark = pytest.mark.django_db

SITE = "https://shop.example"
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture(autouse=True)
def site(settings, tmp_path):
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = tmp_path


def _meta(html: str) -> dict[str, str]:
    found = re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', html)
    return {key: unescape(value) for key, value in found}


def _jsonld(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return [json.loads(block) for block in blocks]


def _canonicals(html: str) -> list[str]:
    return re.findall(r'<link rel="canonical" href="([^"]+)">', html)


def _photo(puppy: Puppy, size=(2400, 1800)) -> PuppyPhoto:
    buffer = io.BytesIO()
    Image.new("RGB", size, "#d8983f").save(buffer, "JPEG")
    photo = PuppyPhoto(puppy=puppy, alt=f"{puppy.name} on the lawn", position=1)
    return photo_process(photo=photo, upload=buffer)


def test_a_puppy_page_has_open_graph_and_twitter_tags_with_a_large_jpeg_cover(client):
    puppy = PuppyFactory(slug="honey", name="Honey", breed="Golden Retriever")
    puppy.description = "Honey is gentle & curious."
    puppy.save()
    photo = _photo(puppy)

    meta = _meta(client.get("/puppies/honey/").content.decode())

    assert meta["og:type"] == "product"
    assert meta["og:title"].startswith("Honey, Golden Retriever")
    assert meta["og:description"] == "Honey is gentle & curious."
    assert meta["og:url"] == f"{SITE}/puppies/honey/"
    largest = photo.variants[-1]
    assert (largest["width"], largest["height"]) == (1600, 1200)
    assert meta["og:image"] == SITE + photo.image.storage.url(largest["jpeg"])
    assert meta["og:image"].endswith(".jpg")
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1600", "1200")
    assert meta["og:image:alt"] == "Honey on the lawn"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["twitter:image"] == meta["og:image"]
    assert meta["twitter:title"] == meta["og:title"]


def test_a_puppy_without_photo_still_unfurls_with_a_small_card(client):
    PuppyFactory(slug="pip")

    meta = _meta(client.get("/puppies/pip/").content.decode())

    assert "og:image" not in meta
    assert meta["twitter:card"] == "summary"
    assert meta["og:title"]


@pytest.mark.parametrize(
    ("status", "availability"),
    [
        ("available", "https://schema.org/InStock"),
        ("held", "https://schema.org/Reserved"),
        ("reserved", "https://schema.org/Reserved"),
        ("sold", "https://schema.org/SoldOut"),
    ],
)
def test_the_puppy_page_describes_a_product_offer_with_price_and_availability(
    client, status, availability
):
    puppy = PuppyFactory(slug="bella", name="Bella", price=Decimal("2800.00"), currency="GBP")
    Puppy.objects.filter(pk=puppy.pk).update(status=status)
    photo = _photo(puppy, size=(800, 600))

    (data,) = _jsonld(client.get("/puppies/bella/").content.decode())

    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "Product"
    assert data["name"].startswith("Bella")
    assert data["url"] == f"{SITE}/puppies/bella/"
    assert data["image"] == [SITE + photo.image.storage.url(photo.variants[-1]["jpeg"])]
    assert data["description"]
    offer = data["offers"]
    assert offer["@type"] == "Offer"
    assert Decimal(offer["price"]) == Decimal("2800.00")
    assert offer["priceCurrency"] == "GBP"
    assert offer["availability"] == availability
    assert offer["url"] == f"{SITE}/puppies/bella/"


def test_words_typed_by_the_breeder_cannot_break_out_of_the_json_ld(client):
    puppy = PuppyFactory(slug="sly")
    puppy.description = '</script><script>alert(1)</script> "quoted" & more'
    puppy.save()

    html = client.get("/puppies/sly/").content.decode()

    (data,) = _jsonld(html)
    assert data["description"] == puppy.description
    assert "<script>alert(1)" not in html


def test_every_public_page_names_its_canonical_address_without_the_query(client):
    PuppyFactory(slug="honey")
    Page.objects.create(kind="faq", title="FAQ", body="Ask us.")

    assert _canonicals(client.get("/?breed=Golden&sex=female").content.decode()) == [f"{SITE}/"]
    assert _canonicals(client.get("/puppies/honey/").content.decode()) == [f"{SITE}/puppies/honey/"]
    assert _canonicals(client.get("/faq/").content.decode()) == [f"{SITE}/faq/"]
    assert _canonicals(client.get("/parents/").content.decode()) == [f"{SITE}/parents/"]
    faq = _meta(client.get("/faq/").content.decode())
    assert faq["og:title"] == "FAQ"
    assert faq["og:url"] == f"{SITE}/faq/"


@pytest.mark.parametrize(
    "missing",
    ["/puppies/no-such-puppy/", "/?page=99", "/about/", "/litters/no-such-litter/"],
)
def test_a_page_that_is_not_there_names_no_canonical_address(client, missing):
    """Tried: the 404 of /puppies/no-such-puppy/ told search engines that very address was
    the page's canonical one (and og:url named it for the apps a link is shared in)."""
    PuppyFactory(slug="honey")

    answer = client.get(missing)

    assert answer.status_code == 404
    html = answer.content.decode()
    assert _canonicals(html) == []
    assert "og:url" not in _meta(html)
    assert _meta(html)["og:site_name"]  # still the shop's, for a link shared anyway


def test_a_form_refused_for_its_csrf_token_names_no_canonical_address():
    LitterFactory(slug="spring")

    answer = Client(enforce_csrf_checks=True).post("/litters/spring/waitlist/", {"name": "Ann"})

    assert answer.status_code == 403
    assert _canonicals(answer.content.decode()) == []


@pytest.mark.parametrize(
    ("currency", "price", "written"),
    [("JPY", "350000", "350000"), ("KRW", "2500000", "2500000"), ("EUR", "1500", "1500.00")],
)
def test_structured_data_writes_the_price_with_its_currencys_places(
    client, currency, price, written
):
    """Tried: a JPY puppy's JSON-LD offer said 350000.00, a price no yen amount has."""
    PuppyFactory(slug="kiko", price=Decimal(price), currency=currency)

    html = client.get("/puppies/kiko/").content.decode()

    (data,) = _jsonld(html)
    assert (data["offers"]["price"], data["offers"]["priceCurrency"]) == (written, currency)
    meta = _meta(html)
    assert (meta["product:price:amount"], meta["product:price:currency"]) == (written, currency)


def test_a_litter_shared_in_an_app_is_named_by_its_title(client):
    """Tried: a litter's link unfurled as the shop's name only."""
    LitterFactory(slug="spring", name="Spring litter")

    litter = _meta(client.get("/litters/spring/").content.decode())
    litters = _meta(client.get("/litters/").content.decode())

    assert (litter["og:title"], litter["og:url"]) == ("Spring litter", f"{SITE}/litters/spring/")
    assert (litters["og:title"], litters["og:url"]) == ("Our litters", f"{SITE}/litters/")


def test_the_sitemap_lists_the_breeders_pages(client):
    PuppyFactory(slug="honey", litter__slug="spring")
    for kind in ("about", "faq", "terms", "privacy", "imprint"):
        Page.objects.create(kind=kind, title=kind, body="x")
    Dog.objects.create(slug="maple", name="Maple", sex="female", breed="Golden Retriever")

    answer = client.get("/sitemap.xml")

    paths = sorted(
        u.findtext("s:loc", namespaces=NS).removeprefix(SITE)
        for u in ET.fromstring(answer.content).iter(f"{{{NS['s']}}}url")
    )
    assert paths == [
        "/",
        "/about/",
        "/faq/",
        "/imprint/",
        "/litters/",
        "/litters/spring/",
        "/parents/",
        "/privacy/",
        "/puppies/honey/",
        "/terms/",
    ]


def test_browsers_find_an_svg_icon_a_png_fallback_and_an_apple_touch_icon(client):
    html = client.get("/").content.decode()

    links = dict(re.findall(r'<link rel="(icon|apple-touch-icon)" href="([^"]+)"[^>]*>', html))
    assert "apple-touch-icon" in links
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert any(i.endswith(".svg") for i in icons)
    assert any(i.endswith(".png") for i in icons)
    for name, kind, size in [
        ("apple-touch-icon.png", "PNG", (180, 180)),
        ("favicon-32.png", "PNG", (32, 32)),
        ("favicon.ico", "ICO", None),
    ]:
        served = client.get(f"/static/kennel/{name}")
        served.close()
        assert served.status_code == 200
        with Image.open(finders.find(f"kennel/{name}")) as image:
            assert image.format == kind
            assert size is None or image.size == size
