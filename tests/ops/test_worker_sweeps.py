"""The worker's sweeps: a hold is expired the moment its time runs out, not at the next round
of the sweeps (invariant 7: its puppy is offered again at once)."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.ops.management.commands.worker import _sweep_loop
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hold_ends_when_its_time_runs_out_not_at_the_next_round_of_sweeps():
    """Tried: for up to the sweeps' 30 s after a hold ran out, its puppy's page still said
    another family was paying, and showed no form."""
    puppy = PuppyFactory(name="Rosie", status=Puppy.Status.HELD)
    hold = ReservationFactory(puppy=puppy, expires_at=timezone.now() + timedelta(seconds=2))
    stop = threading.Event()
    sweeps = threading.Thread(target=_sweep_loop, args=(stop, 30.0), daemon=True)
    sweeps.start()
    try:
        deadline = time.monotonic() + 15  # the next round of every sweep is 30 s away
        while time.monotonic() < deadline:
            hold.refresh_from_db()
            if hold.status != Reservation.Status.PENDING:
                break
            time.sleep(0.1)
        expired_after = (timezone.now() - hold.expires_at).total_seconds()
    finally:
        stop.set()
        sweeps.join(timeout=30)

    assert hold.status == Reservation.Status.EXPIRED
    assert expired_after < 5
    puppy.refresh_from_db()
    assert puppy.status == Puppy.Status.AVAILABLE
