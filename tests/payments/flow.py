"""What the Stripe and PayPal flow tests share: waiting for webhooks, counting transitions,
and one signed delivery posted many times at once."""

from collections.abc import Callable
from typing import Any

import httpx

from kennel.core.models import AuditLog
from kennel.reservations.models import Reservation


def settled(sandbox: Any, reservation_id: str) -> Reservation:
    """The reservation once every webhook the sandbox had to send has been answered."""
    assert sandbox.wait_for_deliveries(timeout=15)
    return Reservation.objects.select_related("puppy").get(pk=reservation_id)


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
