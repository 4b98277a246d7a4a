"""What the Stripe and PayPal flow tests share: waiting for webhooks, counting transitions,
and one signed delivery posted many times at once."""

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import httpx
from django.core.management import call_command
from django.utils import timezone
from paypalserversdk.models.money import Money
from paypalserversdk.models.refund_request import RefundRequest

from kennel.core.models import AuditLog, SideEffect
from kennel.core.outbox import side_effect_run
from kennel.payments.models import PaymentWork, Refund, WebhookEvent
from kennel.payments.paypal import client as paypal_client
from kennel.payments.stripe import client as stripe_client
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservations_expire_due


def settled(sandbox: Any, reservation_id: str) -> Reservation:
    """The reservation once every webhook the sandbox had to send has been answered and
    processed (as the worker processes them, from the outbox)."""
    process_webhooks(sandbox)
    return Reservation.objects.select_related("puppy").get(pk=reservation_id)


def process_webhooks(sandbox: Any | None, *, rounds: int = 20) -> None:
    """Until nothing is left: wait for the sandbox's deliveries, then run the queued webhook
    processing as the worker would (processing may make the sandbox send more)."""
    for _ in range(rounds):
        if sandbox is not None:
            assert sandbox.wait_for_deliveries(timeout=15)
        if not run_webhook_jobs():
            return
    raise AssertionError("webhook processing still queued after many rounds")


def run_webhook_jobs() -> int:
    """Run the webhook processing waiting in the outbox now, as the worker's money loop does
    (without waiting out a retry's backoff). Returns how many jobs ran."""
    due = SideEffect.objects.filter(kind=PaymentWork.WEBHOOK_PROCESS, status="pending")
    ids = list(due.values_list("pk", flat=True))
    due.update(next_attempt_at=timezone.now())
    for pk in ids:
        side_effect_run(side_effect_id=pk)
    return len(ids)


def wait_for_event(type_: str, timeout: float = 10.0) -> WebhookEvent:
    """The stored webhook event of `type_`, once the shop has received it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = WebhookEvent.objects.filter(type=type_).first()
        if event is not None:
            return event
        time.sleep(0.02)
    raise AssertionError(f"no {type_} event received")


def confirmations(reservation_id: str) -> int:
    return AuditLog.objects.filter(
        object_id=reservation_id, action="reservations.reservation.confirmed"
    ).count()


def post_at_once(
    threads: Callable[[int, Callable[[int], Any]], list[Any]],
    url: str,
    raw: bytes,
    headers: dict[str, str],
    times: int = 10,
) -> list[int]:
    """POST the same delivery `times` times from as many threads at the same moment."""
    return threads(
        times, lambda i: httpx.post(url, content=raw, headers=headers, timeout=30).status_code
    )


def refund_at_dashboard(reservation: Reservation, amount: str) -> None:
    """What the breeder does in the provider's dashboard: a refund Kennel did not send."""
    payment_id = str(reservation.external_payment_id)
    if reservation.provider == "stripe":
        stripe_client.get_client().v1.refunds.create(
            params={"payment_intent": payment_id, "amount": int(Decimal(amount) * 100)}
        )
    else:
        paypal_client.get_api().sdk.payments.refund_captured_payment(
            {
                "capture_id": payment_id,
                "paypal_request_id": f"dashboard-{uuid.uuid4()}",
                "body": RefundRequest(amount=Money(currency_code="EUR", value=amount)),
            }
        )


def sandbox_refunds(sandbox: Any, reservation: Reservation) -> list[int | Decimal]:
    """The refunds the provider made of the reservation's payment, as amounts."""
    payment_id = reservation.external_payment_id
    if reservation.provider == "stripe":
        with sandbox.stripe.state.lock:
            return [
                r["amount"]
                for r in sandbox.stripe.state.refunds.values()
                if r["payment_intent"] == payment_id
            ]
    with sandbox.paypal.state.lock:
        state = sandbox.paypal.state
        return [
            Decimal(r["amount"]["value"])
            for rid, r in state.refunds.items()
            if state.refund_captures[rid] == payment_id
        ]


def reconcile() -> tuple[int, str]:
    """`reconcile_payments`: its exit code (non-zero when something needs attention) and what
    it said."""
    out = StringIO()
    try:
        call_command("reconcile_payments", stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def page_text(page: httpx.Response) -> str:
    """A page the buyer reads (200), its words with the markup's white space folded."""
    assert page.status_code == 200, page.text
    return " ".join(page.text.split())


def no_refund_told(reservation_id: str) -> None:
    """Nothing was refunded, and neither buyer nor owner was told of a refund."""
    assert not Refund.objects.exists()
    told = SideEffect.objects.filter(
        reservation_id=reservation_id, kind__in=["buyer_refund", "owner_refund"]
    )
    assert not told.exists()


def hold_ran_out(body: dict[str, Any]) -> None:
    """The buyer's hold (the API's answer `body`) runs out while they are still on the
    provider's page: the sweep closes it and emails them."""
    Reservation.objects.filter(pk=body["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert reservations_expire_due() == 1
