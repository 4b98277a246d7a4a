"""Found by search engines: /robots.txt points at /sitemap.xml, which lists the catalogue and
every published puppy — and nothing of the buyers', the breeder's or the machines' pages."""

import xml.etree.ElementTree as ET

import pytest

from tests.factories import LitterFactory, PuppyFactory

pytestmark = pytest.mark.django_db

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
SITE = "https://shop.example"


@pytest.fixture(autouse=True)
def shop_site(settings):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]


def test_robots_keeps_crawlers_to_the_shop_and_names_the_sitemap(client):
    # Tried: both named whatever Host the request came with, where the pages' canonical
    # links name SITE_URL.
    answer = client.get("/robots.txt", HTTP_HOST="localhost")

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    lines = answer.content.decode().splitlines()
    assert "User-agent: *" in lines
    for private in ("/admin/", "/api/", "/reservations/", "/waitlist/", "/payments/", "/webhooks/"):
        assert f"Disallow: {private}" in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines


def test_the_sitemap_lists_the_catalogue_published_puppies_and_the_litters(client):
    litter = LitterFactory(slug="spring")
    PuppyFactory(slug="biscuit", litter=litter)
    PuppyFactory(slug="pepper", litter=litter)
    PuppyFactory(slug="hidden", is_published=False, litter=litter)

    answer = client.get("/sitemap.xml", HTTP_HOST="localhost")

    assert answer.status_code == 200
    urls = [
        u.findtext("s:loc", namespaces=NS)
        for u in ET.fromstring(answer.content).iter(f"{{{NS['s']}}}url")
    ]
    assert sorted(urls) == [
        f"{SITE}/",
        f"{SITE}/litters/",
        f"{SITE}/litters/spring/",
        f"{SITE}/puppies/biscuit/",
        f"{SITE}/puppies/pepper/",
    ]
