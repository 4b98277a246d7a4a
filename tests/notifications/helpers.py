"""Steps the notification tests share: hold and confirm through the services, run the worker."""

import time
from typing import Any

from django.utils import timezone

from kennel.core.db import locked_transaction
from kennel.core.models import SideEffect
from kennel.reservations import services
from kennel.reservations.effects import CONVERSIONS, EMAILS
from kennel.reservations.models import Reservation
from kennel.reservations.tracking import Tracking
from tests.conftest import run_worker_once

TRACKING = Tracking(
    consent=True,
    ga_client_id="1234567890.1700000000",
    fbp="fb.1.1700000000000.1234567890",
    fbc="fb.1.1700000000000.AbCdEf_123",
    client_ip="203.0.113.7",
    user_agent="Mozilla/5.0 (X11; Linux x86_64) Kennel-Test",
    source_url="https://shop.example/puppies/bella/",
)


def hold(
    puppy: Any, *, consent: bool = True, buyer: Any = None, **buyer_fields: str
) -> Reservation:
    """A pending reservation made by the hold service (with the tracking a browser gives)."""
    buyer = buyer or services.Buyer(
        name=buyer_fields.get("name", "Jane Doe"),
        email=buyer_fields.get("email", "jane.doe@example.com"),
        phone=buyer_fields.get("phone", "+33 6 12 34 56 78"),
    )
    return services.reservation_hold(
        puppy_slug=puppy.slug,
        buyer=buyer,
        provider="stripe",
        tracking=TRACKING if consent else Tracking(),
    )


def confirm(reservation: Reservation, *, payment_id: str = "pi_test_1") -> Reservation:
    """Confirm as the shared fulfilment does: under the row lock, in one transaction."""
    with locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
        assert services.reservation_confirm(locked, payment_id=payment_id, actor="test")
    return Reservation.objects.select_related("puppy").get(pk=reservation.pk)


def drain(*, rounds: int = 60) -> None:
    """Run the worker until no side effect is waiting (retries included)."""
    for _ in range(rounds):
        run_worker_once()
        waiting = SideEffect.objects.filter(status__in=["pending", "sending"])
        if not waiting.exists():
            return
        due = min(waiting.values_list("next_attempt_at", flat=True))
        time.sleep(max(0.0, min((due - timezone.now()).total_seconds(), 2.0)) + 0.005)
    raise AssertionError("side effects still waiting after the worker ran many times")


def statuses(reservation: Reservation) -> dict[str, str]:
    """The reservation's emails and conversion reports (not its other outbox work, such as
    closing the provider's checkout), by kind."""
    notices = SideEffect.objects.filter(
        reservation_id=reservation.pk, kind__in=[*EMAILS, *CONVERSIONS]
    )
    return dict(notices.values_list("kind", "status"))
