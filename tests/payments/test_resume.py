"""Resume, don't lock out: the browser that started a hold (and only it, by a signed cookie)
is offered *Continue to payment* / *Cancel* on the puppy's page; cancel is a CSRF-protected
POST that frees the puppy at once; the race loser lands (303) on a page that says so."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.signing import get_cookie_signer
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.models import AuditLog
from kennel.reservations.models import Reservation
from kennel.reservations.views import RESUME_COOKIE, RESUME_SALT
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db

S = Reservation.Status
CHECKOUT = "https://checkout.stripe.com/c/pay/cs_test_resume"

FORM = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+33 6 12 34 56 78",
    "provider": "stripe",
    "accept_terms": "on",
}


def _reserve(client, puppy: Puppy, *, secure: bool = False, **changes):
    url = reverse("payments:reserve", kwargs={"slug": puppy.slug})
    return client.post(url, FORM | changes, secure=secure)


def _signed(value: str) -> str:
    return get_cookie_signer(salt=RESUME_COOKIE + RESUME_SALT).sign(value)


def _browser_holding(*tokens: str) -> Client:
    client = Client()
    client.cookies[RESUME_COOKIE] = _signed(".".join(tokens))
    return client


def _pending(**kwargs: Any) -> Any:
    """A hold whose Stripe checkout has started (its page is CHECKOUT)."""
    return ReservationFactory(
        puppy=kwargs.pop("puppy", None) or PuppyFactory(name="Rosie"),
        checkout_url=CHECKOUT,
        provider_reference=f"cs_test_{uuid.uuid4().hex}",
        **kwargs,
    )


# --- the real reserve POST sets the cookie --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_browser_that_reserved_is_offered_the_same_checkout_on_the_puppy_page(client, sandbox):
    puppy = PuppyFactory(name="Rosie")

    started = _reserve(client, puppy)

    assert started.status_code == 303
    checkout_url = started["Location"]
    reservation = Reservation.objects.get(puppy=puppy)
    assert reservation.checkout_url == checkout_url
    cookie = started.cookies[RESUME_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain http in tests; Secure when the request is secure
    assert 0 < int(cookie["max-age"]) <= 30 * 60
    assert reservation.token not in cookie.value or ":" in cookie.value  # signed, not bare

    html = client.get(puppy.get_absolute_url()).content.decode()

    assert "You started reserving Rosie" in html
    assert f'href="{checkout_url}"' in html  # the same session: never a new payment
    assert f'action="/reservations/{reservation.token}/cancel/"' in html
    assert 'name="provider"' not in html  # no form for a second hold
    assert len(sandbox.stripe.state.sessions) == 1


@pytest.mark.django_db(transaction=True)
def test_a_secure_request_gets_a_secure_cookie(sandbox):
    puppy = PuppyFactory()

    started = _reserve(Client(), puppy, secure=True)

    assert started.status_code == 303, started.content
    assert started.cookies[RESUME_COOKIE]["secure"] is True


def test_the_race_loser_is_sent_with_a_303_to_a_get_page_showing_the_other_puppies(client):
    rosie = PuppyFactory(name="Rosie", slug="rosie")
    _pending(puppy=rosie, buyer_email="other@example.com")
    PuppyFactory(name="Biscuit")
    PuppyFactory(name="Pepper")
    PuppyFactory(name="Bella", status=Puppy.Status.RESERVED)

    response = _reserve(client, rosie)

    assert response.status_code == 303
    assert response["Location"] == "/puppies/rosie/?taken=1"
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rosie has just been reserved by another family" in html
    assert "If their payment does not go through, Rosie will be offered here again." in html
    assert "no longer available" not in html  # nothing says otherwise
    assert "Biscuit" in html
    assert "Pepper" in html
    assert "Bella" not in html  # only puppies that can be reserved now
    assert 'name="provider"' not in html
    assert Reservation.objects.filter(puppy=rosie).count() == 1


def test_the_taken_address_shows_the_ordinary_page_once_the_puppy_is_free_again(client):
    puppy = PuppyFactory(name="Rosie")

    html = client.get(f"{puppy.get_absolute_url()}?taken=1").content.decode()

    assert "has just been reserved" not in html
    assert 'name="provider"' in html  # the form: Rosie can be reserved


def test_validation_errors_still_show_the_form_with_422(client):
    puppy = PuppyFactory()

    response = _reserve(client, puppy, email="nope")

    assert response.status_code == 422
    assert 'data-error-code="VALIDATION_ERROR"' in response.content.decode()


def test_hold_limit_refusals_still_answer_429_with_their_message(client, settings):
    settings.HOLDS_PER_EMAIL = 1
    _pending(buyer_email="jane@example.com")
    puppy = PuppyFactory()

    response = _reserve(client, puppy)

    assert response.status_code == 429
    assert "already have a puppy on hold" in response.content.decode()


# --- only the cookie's browser ---------------------------------------------------------------


def test_a_signed_cookie_shows_continue_and_cancel_on_the_puppy_page():
    reservation = _pending()

    html = _browser_holding(reservation.token).get(reservation.puppy.get_absolute_url())
    html = html.content.decode()

    assert "You started reserving Rosie" in html
    assert f'href="{CHECKOUT}"' in html
    assert "Continue to payment" in html
    assert "Cancel reservation" in html
    assert "another family is paying" not in html


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(lambda token: token, id="unsigned"),
        pytest.param(lambda token: _signed(token)[:-2] + "xx", id="altered signature"),
        pytest.param(
            lambda token: _signed("someone-else").replace("someone-else", token), id="swapped"
        ),
        pytest.param(
            lambda token: get_cookie_signer(salt="other-salt").sign(token), id="other salt"
        ),
    ],
)
def test_a_forged_or_altered_cookie_shows_nothing(cookie):
    reservation = _pending()
    client = Client()
    client.cookies[RESUME_COOKIE] = cookie(reservation.token)

    html = client.get(reservation.puppy.get_absolute_url()).content.decode()

    assert "You started reserving" not in html
    assert CHECKOUT not in html
    assert "another family is paying the deposit right now" in html


def test_an_expired_cookie_signature_shows_nothing(settings):
    reservation = _pending()
    client = _browser_holding(reservation.token)
    settings.HOLD_MINUTES = 0  # the signature is now older than a hold

    html = client.get(reservation.puppy.get_absolute_url()).content.decode()

    assert "You started reserving" not in html


def test_another_browser_sees_on_hold_worded_for_what_it_is(client):
    reservation = _pending()

    html = client.get(reservation.puppy.get_absolute_url()).content.decode()

    assert "Rosie is on hold: another family is paying the deposit right now." in html
    assert "If their payment does not go through, Rosie will be offered here again." in html
    assert "Continue to payment" not in html
    assert CHECKOUT not in html


@pytest.mark.parametrize("status", [S.PROCESSING, S.CONFIRMED, S.EXPIRED, S.CANCELLED])
def test_continue_and_cancel_are_never_offered_for_a_reservation_not_pending(status):
    reservation = _pending(status=status)

    html = _browser_holding(reservation.token).get(reservation.puppy.get_absolute_url())
    html = html.content.decode()

    assert "You started reserving" not in html
    assert "Continue to payment" not in html
    assert CHECKOUT not in html


def test_a_hold_past_its_time_is_not_offered_to_continue():
    reservation = _pending(expires_at=timezone.now() - timedelta(seconds=1))

    html = _browser_holding(reservation.token).get(reservation.puppy.get_absolute_url())

    assert "Continue to payment" not in html.content.decode()


def test_the_cookie_of_another_puppys_hold_shows_nothing_here():
    mine = _pending()
    other = _pending(puppy=PuppyFactory(name="Biscuit"), buyer_email="x@example.com")

    html = _browser_holding(mine.token).get(other.puppy.get_absolute_url()).content.decode()

    assert "You started reserving" not in html


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_frees_the_puppy_at_once_and_shows_the_status_page_with_try_again():
    reservation = _pending()
    client = _browser_holding(reservation.token)

    response = client.post(f"/reservations/{reservation.token}/cancel/")

    assert response.status_code == 303
    assert response["Location"] == reservation.get_absolute_url()
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == (S.CANCELLED, "buyer_cancelled")
    assert reservation.puppy.status == Puppy.Status.AVAILABLE
    assert AuditLog.objects.filter(
        action="reservations.reservation.cancelled", actor="buyer", object_id=str(reservation.pk)
    ).exists()
    html = client.get(response["Location"]).content.decode()
    assert "Reservation cancelled" in html
    assert "Try again" in html
    assert 'name="provider"' in client.get(reservation.puppy.get_absolute_url()).content.decode()
    assert not client.cookies[RESUME_COOKIE].value  # the browser forgets the hold


def test_cancel_is_done_by_post_only():
    """A GET of the address (a reload, a pasted link) cancels nothing: 303 to the page."""
    reservation = _pending()
    url = f"/reservations/{reservation.token}/cancel/"

    opened = Client().get(url)

    assert opened.status_code == 303
    assert opened["Location"] == reservation.get_absolute_url()
    assert Client().put(url).status_code == 405
    reservation.refresh_from_db()
    assert reservation.status == S.PENDING


def test_cancel_needs_the_csrf_token():
    reservation = _pending()
    client = Client(enforce_csrf_checks=True)

    assert client.post(f"/reservations/{reservation.token}/cancel/").status_code == 403
    reservation.refresh_from_db()
    assert reservation.status == S.PENDING

    page = client.get(reservation.get_absolute_url())
    token = page.context["csrf_token"]
    response = client.post(
        f"/reservations/{reservation.token}/cancel/", {"csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 303
    reservation.refresh_from_db()
    assert reservation.status == S.CANCELLED


@pytest.mark.parametrize("status", [S.PROCESSING, S.CONFIRMED, S.REFUNDED])
def test_cancel_changes_nothing_for_a_reservation_not_pending(client, status):
    reservation = _pending(status=status)

    response = client.post(f"/reservations/{reservation.token}/cancel/")

    assert response.status_code == 303
    reservation.refresh_from_db()
    assert reservation.status == status


def test_cancel_of_an_unknown_token_is_a_404(client):
    assert client.post("/reservations/nope-not-a-token/cancel/").status_code == 404


# --- the provider's cancel page --------------------------------------------------------------


def test_the_providers_cancel_page_offers_try_again_once_the_puppy_is_free(client):
    reservation = _pending()

    response = client.get(f"/payments/stripe/cancel/?reservation={reservation.token}")

    html = response.content.decode()
    assert "nothing was charged" in html
    assert "Try again" in html
    assert f'href="{reservation.puppy.get_absolute_url()}"' in html


def test_the_providers_cancel_page_offers_no_try_again_when_the_puppy_is_taken(client):
    reservation = _pending(status=S.CONFIRMED)

    html = client.get(f"/payments/stripe/cancel/?reservation={reservation.token}")

    assert "Try again" not in html.content.decode()


def test_the_providers_cancel_page_of_a_paid_reservation_leads_to_its_own_page(client):
    # Tried: a confirmed reservation's cancel address said "Payment cancelled" and "This
    # reservation is deposit confirmed".
    reservation = _pending(status=S.CONFIRMED)

    response = client.get(f"/payments/stripe/cancel/?reservation={reservation.token}")

    assert response.status_code == 303
    assert response["Location"] == reservation.get_absolute_url()
    reservation.refresh_from_db()
    assert reservation.status == S.CONFIRMED


@pytest.mark.parametrize(
    ("status", "puppy_status", "text"),
    [
        (
            S.PROCESSING,
            Puppy.Status.HELD,
            "Your payment for Rosie is being processed: Rosie is kept for you meanwhile.",
        ),
        (S.CONFIRMED, Puppy.Status.RESERVED, "Rosie is reserved for you: your deposit is paid."),
    ],
)
def test_the_browser_that_paid_reads_its_own_reservation_not_another_familys(
    status, puppy_status, text
):
    """Tried: Back to the puppy's page after paying (or while PayPal reviewed the payment) said
    another family was paying or had paid; a second tab's form, sent after paying in the
    first, landed on "has just been reserved by another family"."""
    reservation = _pending(status=status, puppy=PuppyFactory(name="Rosie", status=puppy_status))
    browser = _browser_holding(reservation.token)

    html = browser.get(reservation.puppy.get_absolute_url()).content.decode()
    second_tab = browser.get(reservation.puppy.get_absolute_url(), {"taken": "1"})

    assert text in html
    assert f'href="{reservation.get_absolute_url()}"' in html
    assert "another family" not in html
    assert second_tab.status_code == 303
    assert second_tab["Location"] == reservation.get_absolute_url()
    other = Client().get(reservation.puppy.get_absolute_url()).content.decode()
    assert "for you" not in other
