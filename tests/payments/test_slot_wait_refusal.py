"""A buyer who waits for a provider slot while someone else takes the puppy is told it was
taken (409), not to try again (503): in a flash sale the losers get the true answer."""

import threading
import time
from typing import Any

import pytest
from django.db import connection

from kennel.catalogue.models import Puppy
from kennel.core.errors import PuppyNotAvailable
from kennel.payments.services import checkout_start
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_hold
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db(transaction=True)


def buyer(n: int) -> Buyer:
    return Buyer(name=f"Buyer {n}", email=f"buyer{n}@example.com", phone="+33 600000000")


def test_a_buyer_waiting_for_a_slot_while_the_puppy_is_taken_is_told_it_is_taken(sandbox, settings):
    settings.PROVIDER_CONCURRENCY = 1
    settings.PROVIDER_TIMEOUT_SECONDS = 5
    other, puppy = PuppyFactory(), PuppyFactory()
    results: dict[str, Any] = {}

    def start(name: str, slug: str, n: int) -> None:
        started = time.monotonic()
        try:
            results[name] = checkout_start(
                puppy_slug=slug, buyer=buyer(n), provider="stripe", site_url="http://shop.test"
            )
        except Exception as exc:
            results[name] = exc
        finally:
            results[f"{name} took"] = time.monotonic() - started
            connection.close()

    sandbox.switches.api_delay = 5  # the one slot waits on a slow provider
    first = threading.Thread(target=start, args=("first", other.slug, 1))
    first.start()
    try:
        deadline = time.monotonic() + 10
        while Puppy.objects.get(pk=other.pk).status != Puppy.Status.HELD:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = threading.Thread(target=start, args=("second", puppy.slug, 2))
        second.start()
        time.sleep(0.2)  # past the cheap read: it waits for the slot (half a second at most)
        reservation_hold(puppy_slug=puppy.slug, buyer=buyer(3), provider="stripe")
        second.join(10)
    finally:
        sandbox.switches.api_delay = 0
        first.join(30)

    assert isinstance(results["second"], PuppyNotAvailable), results["second"]
    assert results["second took"] >= 0.4  # it had waited for the slot
    assert not Reservation.objects.filter(buyer_email="buyer2@example.com").exists()
