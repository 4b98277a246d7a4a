"""The database goes away and comes back: pages, the API, webhooks and health answer 503 with
Retry-After meanwhile (never 500, nothing half-written), the next request after it is back
succeeds without a restart, and the worker waits it out and delivers what was queued."""

import httpx
import pytest
from django.db import connection

from kennel.core.models import SideEffect
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm, hold
from tests.payments.test_stripe_webhooks import event, sign
from tests.resilience.proxy import DatabaseProxy
from tests.resilience.servers import kennel_env, wait_until, web_server, worker

pytestmark = pytest.mark.django_db(transaction=True)
WEBHOOK_SECRET = "whsec_outage_test"


@pytest.fixture
def proxy():
    db = DatabaseProxy().up()
    try:
        yield db
    finally:
        db.down()


def _signed_stripe_event() -> tuple[bytes, dict[str, str]]:
    body = event(event_id="evt_outage_1")
    return body, {"Stripe-Signature": sign(body, secret=WEBHOOK_SECRET)}


def test_while_the_database_is_away_everything_answers_503_and_recovers_without_a_restart(
    proxy,
):
    puppy = PuppyFactory()
    env = kennel_env(
        proxy.url(connection.settings_dict["NAME"]), STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET
    )
    with web_server(env) as url:
        assert httpx.get(f"{url}/").status_code == 200  # a persistent connection is open

        proxy.down()
        page = httpx.get(f"{url}/puppies/{puppy.slug}/")
        api = httpx.get(f"{url}/api/puppies/")
        hold_answer = httpx.post(
            f"{url}/api/reservations/",
            json={
                "puppy": puppy.slug,
                "name": "Jane Doe",
                "email": "jane@example.com",
                "phone": "+33 6 12 34 56 78",
                "provider": "stripe",
                "accept_terms": True,
            },
        )
        body, headers = _signed_stripe_event()
        webhook = httpx.post(f"{url}/webhooks/stripe/", content=body, headers=headers)
        health = httpx.get(f"{url}/health/")

        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert "back in a moment" in page.text.lower()
        assert "nothing was charged" in page.text
        for answer in (api, hold_answer, webhook):
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            assert answer.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        assert health.status_code == 503

        proxy.up()
        assert httpx.get(f"{url}/puppies/{puppy.slug}/").status_code == 200
        assert httpx.get(f"{url}/api/puppies/").status_code == 200
        assert httpx.post(f"{url}/webhooks/stripe/", content=body, headers=headers).json()[
            "received"
        ]
    assert not Reservation.objects.exists()  # the refused hold left nothing behind


def test_the_worker_waits_out_a_database_outage_and_then_sends_what_was_queued(
    proxy, tmp_path, settings
):
    settings.OWNER_EMAIL = ""  # as in the worker's environment below: the buyer's email only
    mail = tmp_path / "mail"
    mail.mkdir()
    env = kennel_env(
        proxy.url(connection.settings_dict["NAME"]),
        EMAIL_URL=f"filemail://{mail}",
        OWNER_EMAIL="",
    )
    log = tmp_path / "worker.log"
    with worker(env, log) as process:
        wait_until(lambda: proxy.connections > 0, "the worker to connect", process, log)
        proxy.down()
        reservation = confirm(hold(PuppyFactory()))  # its buyer email waits in the outbox
        # The operator is told, and the worker keeps trying: its second try says "in 2 s".
        wait_until(
            lambda: (
                "database unavailable" in log.read_text()
                and "trying again in 2 s" in log.read_text()
            ),
            "the worker to say the database is unavailable, and to try again",
            process,
            log,
        )
        assert process.poll() is None, log.read_text()
        assert list(mail.iterdir()) == []

        proxy.up()
        effect = SideEffect.objects.get(kind="buyer_confirmation")
        wait_until(
            lambda: SideEffect.objects.get(pk=effect.pk).status == "sent",
            "the queued email to go out",
            process,
            log,
        )
        assert process.poll() is None, log.read_text()
    messages = "".join(path.read_text() for path in mail.iterdir())
    assert messages.count(f"To: {reservation.buyer_email}") == 1
