"""`python -m kennel open_picking <litter>`: the breeder opens picking from a terminal, and the
demo's waiting-list litter is ready for it."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from kennel.catalogue.models import Litter, Puppy
from kennel.core.models import AuditLog
from kennel.ops.demo.loader import demo_load
from kennel.reservations import waitlist
from kennel.reservations.models import PickTurn, WaitlistEntry
from tests.factories import PuppyFactory
from tests.reservations.waitlist_helpers import family, on_list, open_litter

pytestmark = pytest.mark.django_db


def open_picking(slug: str) -> str:
    out = StringIO()
    call_command("open_picking", slug, stdout=out)
    return out.getvalue()


def test_open_picking_gives_family_1_its_turn_and_says_until_when():
    litter = open_litter(name="Maple and Hunter", slug="maple-hunter")
    PuppyFactory(litter=litter, is_published=False)
    on_list(litter, 1)
    on_list(litter, 2)

    said = open_picking("maple-hunter")

    turn = PickTurn.objects.get(outcome=PickTurn.Outcome.OPEN)
    assert turn.entry.reservation.buyer_name == "Family 1"
    assert said.startswith("Maple and Hunter: picking open. Family 1 (#1) chooses now, until ")
    # In the shop's time zone, as the command says it (in UTC it is another day for an hour).
    assert timezone.localtime(turn.ends_at).strftime("%Y-%m-%d %H:%M") in said
    assert AuditLog.objects.get(action="catalogue.litter.picking_opened").actor.startswith(
        "system:"
    )


def test_open_picking_with_nobody_to_offer_a_puppy_says_so():
    open_litter(slug="empty-list")

    said = open_picking("empty-list")

    assert "nobody could be offered a puppy" in said
    assert Litter.objects.get(slug="empty-list").picking == Litter.Picking.CLOSED


def test_open_picking_for_an_unknown_litter_fails_clearly():
    with pytest.raises(CommandError, match="no litter with the slug 'no-such-litter'"):
        open_picking("no-such-litter")


def test_open_picking_twice_fails_clearly_and_keeps_the_turn():
    litter = open_litter(name="Maple and Hunter", slug="maple-hunter")
    PuppyFactory(litter=litter, is_published=False)
    on_list(litter, 1)
    open_picking("maple-hunter")

    with pytest.raises(CommandError, match=r"Picking cannot be opened.*families are choosing"):
        open_picking("maple-hunter")

    assert PickTurn.objects.count() == 1


def test_from_the_shell_an_unknown_litter_exits_non_zero_with_the_reason():
    # The test database (its tables exist; the litter does not) in a real `python -m kennel`.
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    done = subprocess.run(
        [sys.executable, "-m", "kennel", "open_picking", "no-such-litter"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "no litter with the slug 'no-such-litter'" in done.stderr


def test_the_demo_has_a_born_litter_whose_waiting_list_a_visitor_can_join(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    demo_load()

    litter = Litter.objects.get(slug="juniper-hunter-golden-retrievers")
    assert litter.stage == Litter.Stage.BORN
    assert litter.waitlist_open
    assert litter.list_deposit
    assert litter.deposit_terms == Litter.DepositTerms.REFUNDABLE
    assert litter.refund_days == 14
    assert litter.born_on is not None
    assert litter.go_home_on is not None
    assert litter.go_home_on > litter.born_on
    puppies = Puppy.objects.filter(litter=litter)
    assert 3 <= puppies.count() <= 4
    assert not puppies.filter(is_published=True).exists()
    assert all(Litter.objects.exclude(slug="").values_list("slug", flat=True))

    entry = waitlist.waitlist_join(
        litter_slug=litter.slug,
        buyer=family(1),
        provider="stripe",
        preferences=waitlist.Preferences(sex="female"),
    )
    assert entry.status == WaitlistEntry.Status.PENDING
    assert entry.reservation.deposit_amount == litter.list_deposit
