"""The whole path, through the front door: a deposit paid in the sandbox, its webhook delivered
ten times at once, the return URL on top — and each side effect arrives exactly once, while the
webhook answers as fast with the mail server and the endpoints down."""

import time

import httpx
import pytest

from kennel.core.models import SideEffect
from kennel.reservations.effects import CONVERSIONS, EMAILS
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.notifications.conftest import OWNER
from tests.notifications.helpers import drain
from tests.notifications.servers import free_port
from tests.payments.flow import post_at_once, run_webhook_jobs, settled
from tests.payments.stripe_helpers import choose, events_of

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = "jane.doe@example.com"
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Kennel-Test",
    "Cookie": "_ga=GA1.1.1234567890.1700000000; _fbp=fb.1.1700000000000.1234567890",
}


def reserve_with_consent(base_url: str, slug: str) -> dict:
    answer = httpx.post(
        f"{base_url}/api/reservations/",
        json={
            "puppy": slug,
            "name": "Jane Doe",
            "email": BUYER,
            "phone": "+33 6 12 34 56 78",
            "provider": "stripe",
            "accept_terms": True,
            "analytics_consent": True,
        },
        headers=BROWSER,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def paid_but_held_back(sandbox, base_url: str, slug: str) -> tuple[dict, str, bytes, dict]:
    """Reserve and pay; the sandbox keeps its webhooks: the test delivers them itself."""
    body = reserve_with_consent(base_url, slug)
    sandbox.switches.hold_webhooks = True
    back_to = choose(body["checkout_url"], "pay")
    [event] = events_of(sandbox, "checkout.session.completed", body["provider_reference"])
    raw, headers = sandbox.stripe.signed_delivery(event)
    return body, back_to, raw, headers


def test_a_deposit_delivered_ten_times_sends_each_email_and_conversion_once(
    owner, sandbox, live_server, threads, smtp_server, ga4_endpoint, meta_endpoint
):
    puppy = PuppyFactory(name="Bella")
    body, back_to, raw, headers = paid_but_held_back(sandbox, live_server.url, puppy.slug)
    webhook = f"{live_server.url}/webhooks/stripe/"

    answers = post_at_once(threads, webhook, raw, headers)
    assert answers == [200] * 10
    assert httpx.get(back_to, follow_redirects=True, timeout=10).status_code == 200
    sandbox.switches.hold_webhooks = False
    sandbox.release_webhooks()  # and the sandbox's own deliveries, late
    assert settled(sandbox, body["id"]).status == "confirmed"
    drain()
    drain()

    received = smtp_server.wait_for(2)
    time.sleep(0.2)  # anything extra would have arrived by now
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == sorted([OWNER, BUYER])
    [ga4] = ga4_endpoint.hits
    [meta] = meta_endpoint.hits
    assert len(received) == 2
    assert ga4.path == "/mp/collect"
    assert ga4.query == {"measurement_id": "G-TEST12345", "api_secret": "ga4-test-secret"}
    assert ga4.body["client_id"] == "1234567890.1700000000"
    assert ga4.body["events"][0]["params"]["transaction_id"] == body["id"]
    [event] = meta.body["data"]
    assert meta.path == "/v23.0/1234567890123/events"
    assert (event["event_name"], event["event_id"]) == ("Purchase", body["id"])
    assert event["user_data"]["fbp"] == "fb.1.1700000000000.1234567890"
    assert event["user_data"]["client_user_agent"] == BROWSER["User-Agent"]
    assert event["user_data"]["client_ip_address"] == "127.0.0.1"
    notices = SideEffect.objects.filter(kind__in=[*EMAILS, *CONVERSIONS])
    assert set(notices.values_list("status", flat=True)) == {"sent"}
    assert notices.count() == 4


def test_the_webhook_answers_at_once_while_mail_and_endpoints_hang(
    owner, sandbox, live_server, ga4_endpoint, meta_endpoint, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # down
    ga4_endpoint.delay = meta_endpoint.delay = 3.0
    settings.ANALYTICS_TIMEOUT_SECONDS = 2.0
    puppy = PuppyFactory()
    body, _back_to, raw, headers = paid_but_held_back(sandbox, live_server.url, puppy.slug)

    started = time.monotonic()
    answer = httpx.post(
        f"{live_server.url}/webhooks/stripe/", content=raw, headers=headers, timeout=30
    )
    elapsed = time.monotonic() - started

    assert answer.status_code == 200
    # Sent inline, one call alone would wait for the analytics timeout; a loaded machine may
    # take its time, not that long.
    assert elapsed < settings.ANALYTICS_TIMEOUT_SECONDS, f"answered after {elapsed:.2f}s"
    run_webhook_jobs()  # the worker's money loop confirms it; emails are still only queued
    assert Reservation.objects.get(pk=body["id"]).status == "confirmed"
    effects = SideEffect.objects.filter(reservation_id=body["id"])
    assert effects.count() == 4
    assert set(effects.values_list("status", "attempts")) == {("pending", 0)}
    assert ga4_endpoint.hits == meta_endpoint.hits == []
