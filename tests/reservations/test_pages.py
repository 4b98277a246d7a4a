"""The buyer's status page /reservations/<token>/: plain words per status, own data only."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from kennel.catalogue.agreement import for_puppy
from kennel.reservations.models import Reservation
from kennel.reservations.views import STATUS_TEXT
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db

S = Reservation.Status


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (S.PENDING, "Waiting for your payment"),
        (S.PROCESSING, "Your bank is processing the payment"),
        (S.CONFIRMED, "Your deposit is confirmed. Biscuit is reserved for you."),
        (S.COMPLETED, "Biscuit is yours"),
        (S.EXPIRED, "was not paid in time; the puppy is released"),
        (S.CANCELLED, "was cancelled; the puppy is released"),
        (S.RELEASED, "The payment failed; nothing was charged."),
        (S.REFUNDED, "Your deposit was refunded."),
    ],
)
def test_status_page_says_in_plain_words_where_the_reservation_stands(client, status, words):
    reservation = ReservationFactory(puppy=PuppyFactory(name="Biscuit"), status=status)

    response = client.get(reservation.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert escape(for_puppy(STATUS_TEXT[status], reservation.puppy).format(puppy="Biscuit")) in html
    assert escape(words) in html
    assert f'data-status="{status}"' in html


def test_status_page_shows_puppy_deposit_provider_and_the_buyers_own_name_and_email(client):
    reservation = ReservationFactory(
        puppy=PuppyFactory(name="Biscuit"),
        buyer_name="Jane Doe",
        buyer_email="jane@example.com",
        buyer_phone="+33 6 99 88 77 66",
        status=S.CONFIRMED,
    )

    html = client.get(reservation.get_absolute_url()).content.decode()

    assert "Biscuit" in html
    assert f"{reservation.deposit_amount:,} EUR" in html
    assert "Card (Stripe)" in html
    assert "Jane Doe" in html
    assert "jane@example.com" in html
    assert "+33 6 99 88 77 66" not in html  # not needed on this page


def test_status_page_shows_no_other_buyers_data(client):
    mine = ReservationFactory(buyer_name="Jane Doe", buyer_email="jane@example.com")
    ReservationFactory(buyer_name="John Other", buyer_email="john@example.org")
    # An earlier, expired reservation of the same puppy by someone else.
    ReservationFactory(
        puppy=mine.puppy, buyer_name="Old Buyer", buyer_email="old@example.net", status=S.EXPIRED
    )

    html = client.get(mine.get_absolute_url()).content.decode()

    assert "Jane Doe" in html
    for other in ["John Other", "john@example.org", "Old Buyer", "old@example.net"]:
        assert other not in html


@pytest.mark.parametrize("status", [S.PENDING, S.PROCESSING])
def test_open_payment_page_polls_the_api_and_refreshes_without_javascript(client, status):
    reservation = ReservationFactory(status=status)

    html = client.get(reservation.get_absolute_url()).content.decode()

    assert f'data-status-url="/api/reservations/{reservation.token}/"' in html
    assert 'src="/static/kennel/status.js"' in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert "<script>" not in html  # no inline script


@pytest.mark.parametrize("status", [S.CONFIRMED, S.EXPIRED, S.RELEASED, S.REFUNDED])
def test_settled_reservation_page_does_not_poll(client, status):
    reservation = ReservationFactory(status=status)

    html = client.get(reservation.get_absolute_url()).content.decode()

    assert "status.js" not in html
    assert 'http-equiv="refresh"' not in html


def test_status_page_is_private_and_not_cached(client):
    reservation = ReservationFactory()

    response = client.get(reservation.get_absolute_url())

    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"


@pytest.mark.parametrize("token", ["nope", "x" * 65, "%00", "a%00b", "a.b", "a" * 32])
def test_unknown_token_is_a_404_page(client, token):
    ReservationFactory()

    response = client.get(f"/reservations/{token}/")

    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_lookup_by_token_refuses_what_cannot_be_a_token_without_asking_the_database(
    django_assert_num_queries,
):
    from kennel.reservations.selectors import reservation_by_token

    with django_assert_num_queries(0):
        for token in ["", "a\x00b", "x" * 65, "a/b", "é"]:
            assert reservation_by_token(token) is None


def test_status_page_url_is_the_reservations_absolute_url():
    reservation = ReservationFactory.build(token="abc")

    assert reservation.get_absolute_url() == reverse("reservations:status", kwargs={"token": "abc"})
    assert reservation.get_absolute_url() == "/reservations/abc/"
