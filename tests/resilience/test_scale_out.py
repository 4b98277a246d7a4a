"""Scale-out as DESIGN describes it: two stateless web servers and two workers on one
PostgreSQL database, families reserving and paying at once — on one server, coming back to
the other, webhooks to the first. The invariants hold and every side effect happens once,
with both workers' sweeps running side by side."""

import time
from email import message_from_string
from email.message import Message
from pathlib import Path

import pytest

from kennel.core.models import SideEffect
from kennel.payments.models import Refund, WebhookEvent
from kennel.reservations.models import Reservation
from sandbox import Sandbox, SandboxConfig
from tests.conftest import SANDBOX_WEBHOOK_SECRET
from tests.factories import PuppyFactory
from tests.notifications.servers import free_port
from tests.payments.flow import confirmations
from tests.payments.stripe_helpers import choose, reserve
from tests.resilience.servers import kennel_env, own_process_database_url, web_server, worker

pytestmark = pytest.mark.django_db(transaction=True)
PUPPIES = 8
FAMILIES = 16  # two for each puppy


def test_two_web_servers_and_two_workers_on_one_database_keep_every_promise(tmp_path, threads):
    slugs = [PuppyFactory().slug for _ in range(PUPPIES)]
    port_a, port_b = free_port(), free_port()
    sandbox = Sandbox(
        SandboxConfig(
            stripe_webhook_url=f"http://127.0.0.1:{port_a}/webhooks/stripe/",
            stripe_webhook_secret=SANDBOX_WEBHOOK_SECRET,
            retry_base_delay=0.2,
            max_attempts=10,
        )
    )
    api = sandbox.serve_in_thread(host="127.0.0.1", port=0)
    mail = tmp_path / "mail"
    mail.mkdir()
    env = kennel_env(
        own_process_database_url(),
        STRIPE_API_BASE=api.url,
        STRIPE_SECRET_KEY="sk_test_kennel",
        STRIPE_WEBHOOK_SECRET=SANDBOX_WEBHOOK_SECRET,
        SITE_URL=f"http://127.0.0.1:{port_b}",  # families come back to server B
        EMAIL_URL=f"filemail://{mail}",
        OWNER_EMAIL="owner@kennel.example",
    )
    try:
        with (
            web_server(env, port=port_a) as server_a,
            web_server(env, port=port_b) as server_b,
            worker(env, tmp_path / "worker-1.log") as worker_1,
            worker(env, tmp_path / "worker-2.log") as worker_2,
        ):

            def family(n: int) -> str | None:
                for _ in range(50):
                    answer = reserve((server_a, server_b)[n % 2], slugs[n % PUPPIES], n=n)
                    busy = answer.status_code == 503 and (
                        answer.json()["error"]["code"] == "PROVIDER_BUSY"
                    )
                    if not busy:
                        break
                    # Told to come back (Retry-After): every provider slot of that server
                    # was in use by the others' checkouts; a family tries again, as told.
                    time.sleep(0.2)
                if answer.status_code != 201:
                    assert answer.status_code == 409, answer.text
                    return None
                choose(answer.json()["checkout_url"], "pay")  # back to B, webhook to A
                return str(answer.json()["id"])

            paid = [r for r in threads(FAMILIES, family) if r]
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                confirmed = Reservation.objects.filter(pk__in=paid, status="confirmed").count()
                unsent = SideEffect.objects.exclude(status="sent").count()
                if confirmed == len(paid) and unsent == 0 and sandbox.wait_for_deliveries(0.1):
                    break
                time.sleep(0.3)
            assert worker_1.poll() is None
            assert worker_2.poll() is None
    finally:
        sandbox.close()

    assert len(paid) == PUPPIES  # one family per puppy
    for reservation_id in paid:
        assert Reservation.objects.get(pk=reservation_id).status == "confirmed"
        assert confirmations(reservation_id) == 1
    for slug in slugs:
        active = Reservation.objects.filter(puppy__slug=slug, status__in=Reservation.ACTIVE)
        assert active.count() == 1
    assert not Refund.objects.exists()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) <= {"processed", "ignored"}
    assert set(SideEffect.objects.values_list("status", flat=True)) == {"sent"}
    sent = sent_emails(mail)
    for reservation in Reservation.objects.filter(pk__in=paid):
        to_buyer = [
            (m["Subject"], m["Message-ID"]) for m in sent if m["To"] == reservation.buyer_email
        ]
        assert len(to_buyer) == 1, to_buyer
    assert len([m for m in sent if m["To"] == "owner@kennel.example"]) == PUPPIES


def sent_emails(folder: Path) -> list[Message]:
    """Every message Django's file backend wrote (it separates them with a line of dashes)."""
    text = "".join(path.read_text() for path in sorted(folder.iterdir()))
    return [message_from_string(chunk.strip()) for chunk in text.split("-" * 79) if chunk.strip()]
