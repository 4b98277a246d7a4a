"""The catalogue's pages: 24 puppies each, those a family can reserve first and sold ones on
the last pages, an accessible pager that keeps the filters, and no page past the last."""

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from kennel.catalogue.models import Litter, Puppy
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db

P = Puppy.Status
INDEX = reverse("catalogue:index")


class Page(HTMLParser):
    """What a reader of the page gets: the cards' names in order, the pager's links by rel,
    its label and the text it says."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.links: dict[str, str] = {}
        self.pager_label = ""
        self.title = ""
        self._in: str = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "card__link" in a.get("class", ""):
            self._in = "card"
        elif tag == "a" and a.get("rel") in ("prev", "next"):
            self.links[a["rel"]] = a["href"]
        elif tag == "nav" and "pager" in a.get("class", ""):
            self.pager_label = a.get("aria-label", "")
        elif tag == "title":
            self._in = "title"

    def handle_data(self, data: str) -> None:
        if self._in == "card":
            self.names.append(data.strip())
        elif self._in == "title":
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "title"):
            self._in = ""


def read(client, url: str) -> tuple[Page, str]:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    page = Page()
    page.feed(html)
    return page, " ".join(re.sub(r"<[^>]+>", " ", html).split())


def make(count: int, *, status: str = P.AVAILABLE, prefix: str = "Pup", **fields) -> None:
    litter = Litter.objects.create(
        name=f"{prefix} litter", dam="Bella", sire="Max", born_on=date(2026, 1, 1)
    )
    for i in range(count):
        PuppyFactory(
            name=f"{prefix} {i:03d}",
            slug=f"{prefix.lower()}-{i:03d}",
            litter=litter,
            status=status,
            **fields,
        )


def test_a_big_catalogue_shows_24_puppies_a_page_and_says_which_page_of_how_many(client):
    make(50)

    first, text = read(client, INDEX)
    last, last_text = read(client, f"{INDEX}?page=3")

    assert len(first.names) == 24
    assert "50 puppies" in text
    assert "Page 1 of 3" in text
    assert first.pager_label == "Pages of puppies"
    assert first.links == {"next": f"{INDEX}?page=2"}
    assert len(last.names) == 2
    assert "Page 3 of 3" in last_text
    assert last.links == {"prev": f"{INDEX}?page=2"}
    assert "page 3" in last.title


def test_the_middle_page_links_both_ways_and_page_one_has_no_page_in_its_address(client):
    make(50)

    middle, _ = read(client, f"{INDEX}?page=2")

    assert middle.links == {"prev": INDEX, "next": f"{INDEX}?page=3"}


def test_every_puppy_is_on_exactly_one_page_and_sold_ones_only_on_the_last_pages(client):
    make(30, status=P.SOLD, prefix="Sold")
    make(40, prefix="Free")
    make(3, status=P.HELD, prefix="Held")
    make(3, status=P.RESERVED, prefix="Kept")

    pages = [read(client, f"{INDEX}?page={n}")[0].names for n in (1, 2, 3, 4)]

    listed = [name for page in pages for name in page]
    assert sorted(listed) == sorted(Puppy.objects.values_list("name", flat=True))
    assert [len(page) for page in pages] == [24, 24, 24, 4]
    # Available first, then held, reserved, and sold last: no sold puppy on the first page.
    kinds = [name.split()[0] for name in listed]
    assert kinds == ["Free"] * 40 + ["Held"] * 3 + ["Kept"] * 3 + ["Sold"] * 30
    assert not any(name.startswith("Sold") for name in pages[0])


def test_the_pager_keeps_the_filters(client):
    make(30, prefix="Collie", breed="Border Collie")
    make(30, prefix="Golden", breed="Golden Retriever")

    first, text = read(client, f"{INDEX}?breed=Border+Collie&status=available")
    second, _ = read(client, first.links["next"])

    assert "30 puppies match your choice" in text
    assert first.links["next"] == f"{INDEX}?breed=Border+Collie&status=available&page=2"
    assert {name.split()[0] for name in first.names + second.names} == {"Collie"}
    assert len(first.names + second.names) == 30
    assert second.links == {"prev": f"{INDEX}?breed=Border+Collie&status=available"}


def test_a_small_catalogue_has_no_pager(client):
    make(24)

    page, text = read(client, INDEX)

    assert len(page.names) == 24
    assert page.pager_label == ""
    assert page.links == {}
    assert "Page 1" not in text


@pytest.mark.parametrize("asked", ["3", "0", "-1", "two", "1.5", "99999999999999999999"])
def test_a_page_that_does_not_exist_is_not_found(client, asked):
    make(30)

    response = client.get(INDEX, {"page": asked})

    assert response.status_code == 404


def test_an_empty_catalogue_still_has_its_first_page(client):
    response = client.get(f"{INDEX}?page=1")

    assert response.status_code == 200
    assert "There are no puppies to show right now" in response.content.decode()


def test_a_page_costs_the_same_queries_however_many_puppies(client, django_assert_max_num_queries):
    make(233, prefix="Many")
    for puppy in Puppy.objects.all()[:60]:
        puppy.photos.create(image=f"puppies/{puppy.slug}.jpg", alt=f"{puppy.name} asleep")

    # the page with its count (a window) + its photos + the breed list
    with django_assert_max_num_queries(3):
        page, text = read(client, f"{INDEX}?page=2")

    assert len(page.names) == 24
    assert "Page 2 of 10" in text


def test_puppies_of_one_age_keep_one_order_from_page_to_page(client):
    # Same status, birthday and name: only the id tells them apart, and it must.
    litter = Litter.objects.create(
        name="Twins", dam="Bella", sire="Max", born_on=date.today() - timedelta(weeks=9)
    )
    for i in range(30):
        PuppyFactory(name="Twin", slug=f"twin-{i}", litter=litter)

    hrefs = []
    for n in (1, 2):
        html = client.get(INDEX, {"page": n}).content.decode()
        hrefs += re.findall(r'class="card__link" href="([^"]+)"', html)

    assert len(hrefs) == len(set(hrefs)) == 30


def test_each_page_past_the_first_is_its_own_canonical_address(client):
    make(30)
    canonical = re.compile(r'<link rel="canonical" href="([^"]+)">')
    first = canonical.findall(client.get(INDEX).content.decode())
    second = canonical.findall(client.get(f"{INDEX}?page=2&utm_source=x").content.decode())
    assert [url.endswith("/") for url in first] == [True]
    assert [url.endswith("/?page=2") for url in second] == [True]
    # Tried: a filtered page 2 named the unfiltered page 2, other puppies, as its own.
    page = client.get(INDEX, {"status": "available", "page": 2})
    filtered = canonical.findall(page.content.decode())
    assert filtered == first
