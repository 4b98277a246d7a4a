"""The catalogue is served from the cache and is never stale: every committed change — a hold,
a payment, an expiry, a refund, a pick-up, the breeder's edits — shows on the very next
request. Real services on PostgreSQL, each change committed as in production."""

import json
import re
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import timezone

from kennel.catalogue import cache
from kennel.catalogue.images import photo_delete
from kennel.catalogue.models import Page, Puppy, PuppyPhoto
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.services import (
    lock_for_payment,
    puppy_put_on_sale,
    puppy_take_off_sale,
    reservation_confirm,
    reservation_hold,
    reservation_mark_picked_up,
    reservation_refunded,
    reservation_release,
    reservations_expire_due,
)
from tests.catalogue.test_litter_pages import family_on_list, open_litter
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db(transaction=True)

INDEX = reverse("catalogue:index")
S = Reservation.Status
BADGE = {"available": "Available", "held": "On hold", "reserved": "Reserved", "sold": "Sold"}


def cards(client, url: str = INDEX) -> dict[str, str]:
    """Each card's puppy name → the status its badge says, as the catalogue shows it now."""
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    found = {}
    for card in re.findall(r'<li class="card.*?</li>', html, flags=re.DOTALL):
        name = re.search(r'class="card__link"[^>]*>([^<]+)</a>', card)
        badge = re.search(r'badge--(\w+)"', card)
        assert name
        assert badge
        found[name.group(1)] = BADGE[badge.group(1)]
    return found


def main(html: bytes | str) -> str:
    """The page's <main>: the footer holds the language form's CSRF token, new each time."""
    text = html.decode() if isinstance(html, bytes) else html
    return text[text.index("<main") : text.index("</main>")]


def catalogue_text(client) -> str:
    html = client.get(INDEX).content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def honey(db: None) -> Puppy:
    PuppyFactory(name="Biscuit", slug="biscuit", price=Decimal("1500.00"))
    PuppyFactory(name="Honey", slug="honey", price=Decimal("2000.00"))
    return Puppy.objects.get(slug="honey")


def hold(puppy: Puppy, buyer: Buyer) -> Reservation:
    return reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe")


def pay(reservation: Reservation) -> None:
    # As payments/fulfilment.py confirms a paid deposit: under the payment's locks.
    with transaction.atomic():
        locked = lock_for_payment(reservation_id=reservation.pk)
        assert reservation_confirm(locked, payment_id="pi_cache_test", actor="stripe:evt_1")


def test_the_second_visit_is_served_from_the_cache_with_one_query(
    client, honey, django_assert_num_queries
):
    first = client.get(INDEX).content

    with django_assert_num_queries(1):  # the catalogue's version
        second = client.get(INDEX).content

    assert main(second) == main(first)
    assert b">Honey</a>" in second


def test_a_hold_shows_on_the_next_request(client, honey, buyer):
    assert cards(client)["Honey"] == "Available"

    hold(honey, buyer)

    assert cards(client) == {"Honey": "On hold", "Biscuit": "Available"}
    page = client.get(honey.get_absolute_url()).content.decode()
    assert "Honey is on hold" in page


def test_a_paid_deposit_shows_the_puppy_reserved_on_the_next_request(client, honey, buyer):
    reservation = hold(honey, buyer)
    assert cards(client)["Honey"] == "On hold"

    pay(reservation)

    assert cards(client)["Honey"] == "Reserved"


def test_an_expired_hold_offers_the_puppy_again_on_the_next_request(client, honey, buyer):
    hold(honey, buyer)
    assert cards(client)["Honey"] == "On hold"

    assert reservations_expire_due(now=timezone.now() + timedelta(hours=2)) == 1

    assert cards(client)["Honey"] == "Available"


def test_a_cancelled_hold_offers_the_puppy_again_on_the_next_request(client, honey, buyer):
    reservation = hold(honey, buyer)
    assert cards(client)["Honey"] == "On hold"

    reservation_release(
        reservation_id=reservation.pk,
        status=S.CANCELLED,
        actor="buyer",
        reason=Reservation.Reason.BUYER_CANCELLED,
    )

    assert cards(client)["Honey"] == "Available"


def test_a_refund_offers_the_puppy_again_on_the_next_request(client, honey, buyer):
    reservation = hold(honey, buyer)
    pay(reservation)
    assert cards(client)["Honey"] == "Reserved"

    with transaction.atomic():
        locked = lock_for_payment(reservation_id=reservation.pk)
        assert reservation_refunded(locked, actor="stripe:evt_2")

    assert cards(client)["Honey"] == "Available"


def test_a_puppy_picked_up_shows_sold_on_the_next_request(client, honey, buyer):
    reservation = hold(honey, buyer)
    pay(reservation)
    assert cards(client)["Honey"] == "Reserved"

    assert reservation_mark_picked_up(reservation_id=reservation.pk, actor="owner:breeder")

    assert cards(client)["Honey"] == "Sold"


def test_taking_a_puppy_off_sale_and_back_shows_on_the_next_request(client, honey):
    assert "Honey" in cards(client)

    assert puppy_take_off_sale(puppy_id=honey.pk, actor="owner:breeder")
    assert "Honey" not in cards(client)

    assert puppy_put_on_sale(puppy_id=honey.pk, actor="owner:breeder")
    assert cards(client)["Honey"] == "Available"


def test_the_breeders_edit_of_name_and_price_in_the_admin_shows_on_the_next_request(
    client, admin_client, honey
):
    assert "2,000.00 EUR" in catalogue_text(client)

    response = admin_client.post(
        reverse("admin:catalogue_puppy_change", args=[honey.pk]),
        {
            "name": "Honey Bee",
            "slug": honey.slug,
            "litter": honey.litter_id,
            "breed": honey.breed,
            "sex": honey.sex,
            "colour": honey.colour,
            "born_on": honey.born_on.isoformat(),
            "price": "2400.00",
            "deposit": str(honey.deposit),
            "currency": "EUR",
            "is_published": "on",
            "description": "",
            "photos-TOTAL_FORMS": "0",
            "photos-INITIAL_FORMS": "0",
            "photos-MIN_NUM_FORMS": "0",
            "photos-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    text = catalogue_text(client)
    assert "Honey Bee" in text
    assert "2,400.00 EUR" in text
    assert "2,000.00 EUR" not in text
    assert cards(client)["Honey Bee"] == "Available"


def test_a_photo_added_changed_or_deleted_shows_on_the_next_request(client, honey):
    assert 'alt="Honey asleep"' not in client.get(INDEX).content.decode()

    photo = PuppyPhoto.objects.create(puppy=honey, image="puppies/honey.jpg", alt="Honey asleep")
    assert 'alt="Honey asleep"' in client.get(INDEX).content.decode()

    photo.alt = "Honey in the garden"
    photo.save()
    html = client.get(INDEX).content.decode()
    assert 'alt="Honey in the garden"' in html
    assert 'alt="Honey asleep"' not in html

    photo_delete(photo=photo)
    assert 'alt="Honey in the garden"' not in client.get(INDEX).content.decode()


def test_a_change_made_in_raw_sql_shows_on_the_next_request(client, honey):
    assert cards(client)["Honey"] == "Available"

    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalogue_puppy SET status = 'sold' WHERE slug = 'honey'")

    assert cards(client)["Honey"] == "Sold"


def test_a_change_that_is_rolled_back_never_shows(client, honey):
    assert cards(client)["Honey"] == "Available"

    def rename_then_fail() -> None:
        with transaction.atomic():
            Puppy.objects.filter(pk=honey.pk).update(name="Ghost")
            raise RuntimeError("the admin's save failed")

    with pytest.raises(RuntimeError):
        rename_then_fail()

    assert "Ghost" not in cards(client)
    assert cards(client)["Honey"] == "Available"


def test_each_page_and_filter_is_cached_apart(client, honey):
    PuppyFactory(name="Rex", slug="rex", breed="Border Collie")

    everyone = cards(client)
    collies = cards(client, f"{INDEX}?breed=Border+Collie")

    assert set(everyone) == {"Honey", "Biscuit", "Rex"}
    assert set(collies) == {"Rex"}
    assert set(cards(client)) == {"Honey", "Biscuit", "Rex"}


def test_a_buyer_reading_french_is_not_served_the_english_page_nor_the_reverse(client, honey):
    english = client.get(INDEX, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    french = client.get(INDEX, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    english_again = client.get(INDEX, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '<html lang="en">' in english
    assert '<html lang="fr">' in french
    assert main(english_again) == main(english)
    assert french.count(">Honey</a>") == english.count(">Honey</a>") == 1


def test_every_visitor_of_the_cached_page_gets_a_working_language_switch(client):
    client.get(INDEX)  # another visitor's request fills the cache
    visitor = Client(enforce_csrf_checks=True)

    html = visitor.get(INDEX).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token

    response = visitor.post(
        reverse("set_language"),
        {"csrfmiddlewaretoken": token.group(1), "language": "fr", "next": INDEX},
    )
    assert response.status_code == 302
    assert '<html lang="fr">' in visitor.get(INDEX).content.decode()


def test_the_api_list_is_served_from_the_cache_and_never_stale(
    client, honey, buyer, django_assert_num_queries
):
    url = "/api/puppies/"
    with transaction.atomic():  # inside a transaction nothing is cached: ninja's own answer
        fresh = client.get(url)
    first = client.get(url)

    assert first.content == fresh.content
    assert first["Content-Type"] == fresh["Content-Type"] == "application/json; charset=utf-8"
    with django_assert_num_queries(1):
        assert client.get(url).content == first.content

    hold(honey, buyer)

    statuses = {p["name"]: p["status"] for p in json.loads(client.get(url).content)}
    assert statuses == {"Honey": "held", "Biscuit": "available"}


def test_the_puppy_page_is_never_stale_for_a_litter_or_price_change(
    client, honey, django_assert_max_num_queries
):
    url = honey.get_absolute_url()
    assert "2,000.00 EUR" in client.get(url).content.decode()
    with django_assert_max_num_queries(1):  # the version: the puppy comes from the cache
        client.get(url)

    Puppy.objects.filter(pk=honey.pk).update(price=Decimal("2600.00"))
    honey.litter.name = "The spring litter"
    honey.litter.save()

    page = client.get(url).content.decode()
    assert "2,600.00 EUR" in page
    assert "The spring litter" in page


def test_a_puppy_taken_off_sale_is_gone_from_its_page_on_the_next_request(client, honey):
    assert client.get(honey.get_absolute_url()).status_code == 200

    assert puppy_take_off_sale(puppy_id=honey.pk, actor="owner:breeder")

    assert client.get(honey.get_absolute_url()).status_code == 404


def test_links_with_tracking_parameters_share_the_page_and_never_show_each_others(
    client, honey, django_assert_num_queries
):
    first = client.get(INDEX, {"fbclid": "visitor-one-secret", "page": "1"}).content.decode()

    with django_assert_num_queries(1):  # the version: the page comes from the cache
        second = client.get(INDEX, {"fbclid": "visitor-two"}).content.decode()

    assert ">Honey</a>" in second
    assert "visitor-one-secret" not in second
    assert "visitor-one-secret" not in first  # the language form goes back to the clean page
    assert 'name="next" value="/"' in second


def test_a_worker_keeps_only_the_current_versions_pages_so_its_memory_stays_bounded():
    """Every hold moves the version on: what an older version rendered is dropped, not kept
    until some timeout, and one version's pages are capped at MAX_ENTRIES."""
    try:
        _bounded_by_version()
    finally:  # the versions made up here are far ahead of the database's: start afresh
        cache._entries.clear()
        cache._entries_version = -1


def _bounded_by_version() -> None:
    cache.fragment_set("catalogue:index:900001:en:x:a", "old page")
    cache.fragment_set("catalogue:index:900002:en:x:a", "new page")
    cache.fragment_set("catalogue:index:900001:en:x:b", "late render of the old version")

    assert cache.fragment_get("catalogue:index:900001:en:x:a") is None
    assert cache.fragment_get("catalogue:index:900001:en:x:b") is None
    assert cache.fragment_get("catalogue:index:900002:en:x:a") == "new page"
    for n in range(cache.MAX_ENTRIES * 2):
        cache.fragment_set(f"catalogue:index:900002:en:x:{n}", "page")
    assert len(cache._entries) <= cache.MAX_ENTRIES


def test_a_crawler_walking_more_pages_than_a_worker_keeps_never_pushes_out_the_catalogue():
    """Hundreds of puppy pages asked once each (a search engine) while buyers keep reading
    the catalogue: the pages asked least recently go, the catalogue stays rendered."""
    try:
        cache.fragment_set("catalogue:index:900003:en:x:home", "the catalogue")
        for n in range(cache.MAX_ENTRIES * 3):
            cache.fragment_set(f"catalogue:puppy_page:900003:en:x:{n}", f"puppy {n}")
            if n % 50 == 0:  # a buyer reads the catalogue now and then
                assert cache.fragment_get("catalogue:index:900003:en:x:home") == "the catalogue"

        assert cache.fragment_get("catalogue:index:900003:en:x:home") == "the catalogue"
        assert len(cache._entries) == cache.MAX_ENTRIES
        last = cache.MAX_ENTRIES * 3 - 1
        assert cache.fragment_get(f"catalogue:puppy_page:900003:en:x:{last}") == f"puppy {last}"
        assert cache.fragment_get("catalogue:puppy_page:900003:en:x:0") is None
    finally:
        cache._entries.clear()
        cache._entries_version = -1


# --- the puppy page: shared by every visitor with nothing of their own on it ----------------

RESERVE_FORM = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+33 6 12 34 56 78",
    "provider": "stripe",
    "accept_terms": "on",
}


def reserve_token(html: str) -> str:
    """The CSRF token of the page's reserve form."""
    form = html[html.index('<form class="reserve-form"') :]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token
    return token.group(1)


def tokenless(html: str) -> str:
    """The page without its CSRF tokens (each visitor's own)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_second_visit_of_a_puppy_page_is_served_from_the_cache_with_one_query(
    client, honey, django_assert_num_queries
):
    url = honey.get_absolute_url()
    first = client.get(url, {"fbclid": "visitor-one-secret"})

    with django_assert_num_queries(1):  # the catalogue's version
        second = Client().get(url)

    assert first.templates[0].name == "catalogue/puppy.html"
    assert second.templates == []  # not rendered again: the page as the first visit made it
    first_html, second_html = first.content.decode(), second.content.decode()
    assert tokenless(main(second_html)) == tokenless(main(first_html))
    assert "Reserve Honey" in second_html
    assert "visitor-one-secret" not in first_html + second_html  # never one visitor's query
    assert reserve_token(first_html) != reserve_token(second_html)  # each visitor's own token


def test_a_hold_and_its_payment_show_on_the_cached_puppy_page_on_the_next_request(
    client, honey, buyer
):
    url = honey.get_absolute_url()
    assert "Reserve Honey" in client.get(url).content.decode()

    reservation = hold(honey, buyer)
    page = client.get(url).content.decode()
    assert "Honey is on hold" in page
    assert "Reserve Honey" not in page

    pay(reservation)
    page = client.get(url).content.decode()
    assert "Honey is reserved: a family has paid the deposit." in page


@pytest.mark.django_db(transaction=True)
def test_every_visitor_of_the_cached_puppy_page_reserves_with_its_own_form(honey, sandbox):
    url = honey.get_absolute_url()
    Client().get(url)  # another visitor's request fills the cache
    visitor = Client(enforce_csrf_checks=True)
    token = reserve_token(visitor.get(url).content.decode())

    started = visitor.post(
        reverse("payments:reserve", kwargs={"slug": honey.slug}),
        RESERVE_FORM | {"csrfmiddlewaretoken": token},
    )

    assert started.status_code == 303, started.content.decode()[:2000]
    assert started["Location"] == Reservation.objects.get(puppy=honey).checkout_url
    # The browser that holds Honey sees its own hold, never the page everyone else is shown.
    own = visitor.get(url).content.decode()
    assert "You started reserving Honey" in own
    assert f'href="{started["Location"]}"' in own
    shared = Client().get(url).content.decode()
    assert "Honey is on hold" in shared
    assert started["Location"] not in shared
    assert "/cancel/" not in shared


def test_the_lost_race_page_is_shared_and_offers_the_puppy_again_once_it_is_free(
    client, honey, buyer, django_assert_num_queries
):
    """A flash sale's many losers land on ?taken=1 (POST -> 303): one rendering serves them."""
    reservation = hold(honey, buyer)
    taken = f"{honey.get_absolute_url()}?taken=1"
    first = client.get(taken)

    with django_assert_num_queries(1):  # the catalogue's version
        second = Client().get(taken)

    assert second.templates == []
    html = second.content.decode()
    assert "Honey has just been reserved by another family" in html
    assert ">Biscuit</a>" in html  # the others to choose from
    assert tokenless(main(html)) == tokenless(main(first.content))
    assert 'name="next" value="/puppies/honey/?taken=1"' in html

    reservation_release(
        reservation_id=reservation.pk,
        status=S.CANCELLED,
        actor="buyer",
        reason=Reservation.Reason.BUYER_CANCELLED,
    )

    html = client.get(taken).content.decode()
    assert "has just been reserved" not in html
    assert "Reserve Honey" in html


def test_a_flash_sales_loser_posting_the_reserve_form_costs_two_reads(
    client, honey, buyer, django_assert_num_queries
):
    """The catalogue's version (the puppy comes from the cache) and the one early read: no
    form work, no hold-rate counting, no lock, for each of a flash sale's many losers."""
    hold(honey, buyer)
    client.get(honey.get_absolute_url())  # the puppy in the cache, as in a sale
    url = reverse("payments:reserve", kwargs={"slug": honey.slug})

    with django_assert_num_queries(2):
        response = client.post(url, RESERVE_FORM)

    assert response.status_code == 303
    assert response["Location"] == f"{honey.get_absolute_url()}?taken=1"


# --- the litters, the parents and the breeder's pages ----------------------------------------


def families_waiting(client, litter) -> str:
    page = client.get(litter.get_absolute_url()).content.decode()
    found = re.search(r"data-families-waiting>(\d+)<", page)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    "url",
    [
        reverse("catalogue:litters"),
        reverse("catalogue:parents"),
        reverse("catalogue:about"),
        "litter",
    ],
)
def test_the_litters_the_parents_and_the_breeders_pages_are_served_from_the_cache(
    client, url, django_assert_num_queries
):
    litter = open_litter()
    Page.objects.create(kind=Page.Kind.ABOUT, title="About us", body="We breed *goldens*.")
    url = litter.get_absolute_url() if url == "litter" else url
    first = client.get(url)

    with django_assert_num_queries(1):  # the catalogue's version
        second = Client().get(url)

    assert first.status_code == second.status_code == 200
    assert first.templates
    assert second.templates == []
    assert tokenless(main(second.content)) == tokenless(main(first.content))


def test_a_family_on_the_list_and_a_full_list_show_on_the_litter_pages_on_the_next_request(
    client,
):
    litter = open_litter(waitlist_cap=2)
    listed = reverse("catalogue:litters")
    assert families_waiting(client, litter) == "0"
    assert "Join the waiting list" in client.get(listed).content.decode()

    family_on_list(litter, 1)
    assert families_waiting(client, litter) == "1"

    family_on_list(litter, 2)
    assert families_waiting(client, litter) == "2"
    assert "The waiting list is full" in client.get(litter.get_absolute_url()).content.decode()
    assert "Join the waiting list" not in client.get(listed).content.decode()

    WaitlistEntry.objects.filter(litter=litter, position=2).update(
        status=WaitlistEntry.Status.WITHDRAWN
    )
    assert families_waiting(client, litter) == "1"


def test_the_breeders_edit_of_a_page_shows_on_the_next_request(client):
    about = Page.objects.create(kind=Page.Kind.ABOUT, title="About us", body="Goldens since 1990.")
    url = reverse("catalogue:about")
    assert "Goldens since 1990." in client.get(url).content.decode()

    about.body = "Goldens and beagles since 1990."
    about.save()

    assert "Goldens and beagles since 1990." in client.get(url).content.decode()


def test_an_unknown_litter_is_never_cached_as_a_page(client):
    url = reverse("catalogue:litter", kwargs={"slug": "autumn"})
    assert client.get(url).status_code == 404
    assert client.get(url).status_code == 404

    open_litter(name="Autumn litter", slug="autumn")

    assert client.get(url).status_code == 200


# --- the first minutes of a litter: many requests miss at once after every change ------------


def test_many_visitors_just_after_a_change_share_one_rendering_of_the_catalogue(
    honey, buyer, threads
):
    """A hold moves the version on while families are reading: every request then misses
    the cache at once. One of them renders the catalogue, the others wait for it and are
    served the same page (with the hold on it), instead of each rendering it on the same
    two cores."""
    Client().get(INDEX)  # rendered under the version before the hold
    hold(honey, buyer)
    renderings = []
    first = threading.Event()

    def rendered(sender, template, context, **kwargs):
        if template.name == "catalogue/index.html":
            renderings.append(template.name)
            if not first.is_set():
                first.set()
                time.sleep(0.5)  # a slow rendering: the other visitors all arrive meanwhile

    template_rendered.connect(rendered)
    try:
        pages = threads(12, lambda i: Client().get(INDEX))
    finally:
        template_rendered.disconnect(rendered)

    assert [page.status_code for page in pages] == [200] * 12
    assert {main(page.content) for page in pages} == {main(pages[0].content)}
    assert cards(Client())["Honey"] == "On hold"
    assert len(renderings) == 1


def test_a_visitor_waiting_for_another_ones_rendering_of_an_unknown_litter_is_told_not_found(
    threads,
):
    """What the first request made is not a page (not found): each waiter then answers for
    itself, with its own 404, and nothing is cached."""
    url = reverse("catalogue:litter", kwargs={"slug": "winter"})

    answers = threads(6, lambda i: Client().get(url).status_code)

    assert answers == [404] * 6
    open_litter(name="Winter litter", slug="winter")
    assert Client().get(url).status_code == 200
