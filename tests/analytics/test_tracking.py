"""At hold time the shop records the buyer's analytics consent and, only with it, what the
conversion reports need: the _ga client id, _fbp/_fbc, IP address, user agent, source page."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from kennel.reservations.models import Reservation
from kennel.reservations.tracking import USER_AGENT_MAX, client_ip, tracking_from_request
from tests.factories import PuppyFactory, ReservationFactory

GA = "GA1.1.1234567890.1700000000"
FBP = "fb.1.1700000000000.1234567890"
FBC = "fb.1.1700000000000.IwAR2xYz_abc-123"
UA = "Mozilla/5.0 (X11; Linux x86_64) Kennel-Test"
FORM = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+33 6 12 34 56 78",
    "accept_terms": True,
}
TRACKING_FIELDS = (
    "ga_client_id",
    "fbp",
    "fbc",
    "client_ip",
    "client_user_agent",
    "event_source_url",
)


def _browser(client) -> None:
    client.cookies["_ga"] = GA
    client.cookies["_fbp"] = FBP
    client.cookies["_fbc"] = FBC


@pytest.mark.django_db
def test_the_consent_box_is_on_the_reserve_form_and_unticked(client):
    puppy = PuppyFactory()

    html = client.get(puppy.get_absolute_url()).content.decode()

    box = '<input type="checkbox" id="id_analytics_consent" name="analytics_consent" value="on">'
    assert box in html
    assert "Google Analytics and Meta" in html


@pytest.mark.django_db(transaction=True)
def test_a_buyer_who_consents_on_the_form_has_the_tracking_context_kept(client, sandbox, settings):
    puppy = PuppyFactory()
    _browser(client)

    answer = client.post(
        reverse("payments:reserve", kwargs={"slug": puppy.slug}),
        {**FORM, "provider": "stripe", "analytics_consent": "on"},
        HTTP_USER_AGENT=UA,
        HTTP_X_FORWARDED_FOR="198.51.100.9",  # no trusted proxy: not believed
    )

    assert answer.status_code == 303
    reservation = Reservation.objects.get()
    assert reservation.analytics_consent is True
    assert reservation.ga_client_id == "1234567890.1700000000"
    assert (reservation.fbp, reservation.fbc) == (FBP, FBC)
    assert reservation.client_ip == "127.0.0.1"
    assert reservation.client_user_agent == UA
    assert reservation.event_source_url == f"{settings.SITE_URL}/puppies/{puppy.slug}/"


@pytest.mark.django_db(transaction=True)
def test_a_buyer_who_does_not_consent_leaves_no_tracking_behind(client, sandbox):
    puppy = PuppyFactory()
    _browser(client)

    answer = client.post(
        reverse("payments:reserve", kwargs={"slug": puppy.slug}),
        {**FORM, "provider": "stripe"},
        HTTP_USER_AGENT=UA,
    )

    assert answer.status_code == 303
    reservation = Reservation.objects.get()
    assert reservation.analytics_consent is False
    assert [getattr(reservation, f) for f in TRACKING_FIELDS] == ["", "", "", None, "", ""]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("consent", [True, False])
def test_the_api_takes_the_consent_flag_too(client, sandbox, consent):
    puppy = PuppyFactory()
    _browser(client)
    body = {**FORM, "puppy": puppy.slug, "provider": "stripe"}
    if consent:
        body["analytics_consent"] = True

    answer = client.post(
        "/api/reservations/", body, content_type="application/json", HTTP_USER_AGENT=UA
    )

    assert answer.status_code == 201, answer.content
    reservation = Reservation.objects.get()
    assert reservation.analytics_consent is consent
    assert (reservation.ga_client_id != "") is consent
    assert (reservation.client_user_agent == UA) is consent


def test_the_openapi_schema_documents_the_consent_flag_as_optional_false(client, db):
    schema = client.get("/api/openapi.json").json()

    field = schema["components"]["schemas"]["ReservationIn"]["properties"]["analytics_consent"]
    assert field["type"] == "boolean"
    assert field["default"] is False


def test_without_a_ga_cookie_a_client_id_is_made_and_bad_cookies_are_dropped():
    request = RequestFactory().post("/", HTTP_USER_AGENT="x\x00y" + "u" * 1000)
    request.COOKIES.update({"_fbp": "fb.1.123.<script>", "_fbc": "javascript:alert(1)"})

    tracking = tracking_from_request(request, consent=True, source_url="https://s/p/")

    assert tracking.ga_client_id.count(".") == 1
    assert (tracking.fbp, tracking.fbc) == ("", "")
    assert len(tracking.user_agent) == USER_AGENT_MAX
    assert "\x00" not in tracking.user_agent


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "ip"),
    [
        (0, "198.51.100.9", "10.0.0.2", "10.0.0.2"),
        (1, "198.51.100.9", "10.0.0.2", "198.51.100.9"),
        (1, "6.6.6.6, 198.51.100.9", "10.0.0.2", "198.51.100.9"),  # the first one is a claim
        (2, "6.6.6.6, 198.51.100.9, 10.0.0.5", "10.0.0.2", "198.51.100.9"),
        (1, "not-an-ip", "10.0.0.2", None),
        (1, "", "10.0.0.2", "10.0.0.2"),
        (0, "", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_x_forwarded_for_is_believed_only_through_the_trusted_proxies(
    settings, proxies, forwarded, remote, ip
):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().post("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == ip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "consent", "shown"),
    [
        ("confirmed", True, True),
        ("completed", True, True),
        ("confirmed", False, False),
        ("pending", True, False),
    ],
)
def test_the_status_page_shows_the_purchase_event_id_once_confirmed_with_consent(
    client, status, consent, shown
):
    reservation = ReservationFactory(status=status, analytics_consent=consent)

    html = client.get(reservation.get_absolute_url()).content.decode()

    assert (f'data-purchase-event-id="{reservation.pk}"' in html) is shown
