"""The breeder runs a litter's waiting list and pick order from the back office: every change
goes through kennel/reservations/waitlist.py (after a confirmation page), is audited with the
breeder's name, and a refusal is a warning on the page, never an error."""

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from kennel.catalogue.models import Litter, Puppy
from kennel.core.models import AuditLog, SideEffect
from kennel.reservations.effects import Effect
from kennel.reservations.models import PickTurn, WaitlistEntry
from kennel.reservations.picking import PICKING_REFUSED_MESSAGE
from tests.factories import PuppyFactory
from tests.reservations.waitlist_helpers import joined, on_list, open_litter

pytestmark = pytest.mark.django_db

LITTERS = "/admin/catalogue/litter/"
FAMILIES = "/admin/reservations/waitlistentry/"


def litter_with_families(families: int = 2, **fields) -> Litter:
    litter = open_litter(name="Maple and Hunter", **fields)
    if litter.born_on is not None:  # no puppies before the birth
        PuppyFactory(litter=litter, name="Sorrel", sex=Puppy.Sex.FEMALE, is_published=False)
        PuppyFactory(litter=litter, name="Barley", sex=Puppy.Sex.MALE, is_published=False)
    for n in range(1, families + 1):
        on_list(litter, n)
    return litter


def act(admin_client, url: str, action: str, *objects, confirm: bool = True, **data):
    form = {"action": action, "_selected_action": [o.pk for o in objects], **data}
    if confirm:
        form["post"] = "yes"
    return admin_client.post(url, form, follow=True)


def entry(n: int) -> WaitlistEntry:
    return WaitlistEntry.objects.get(reservation__buyer_name=f"Family {n}")


def choosing_now(litter: Litter) -> str:
    turn = PickTurn.objects.get(litter=litter, outcome=PickTurn.Outcome.OPEN)
    return turn.entry.reservation.buyer_name


def test_opening_picking_asks_first_then_gives_family_1_its_turn_with_its_end(admin_client):
    litter = litter_with_families(2)

    asked = act(admin_client, LITTERS, "open_picking", litter, confirm=False)
    assert "first family in position order" in asked.content.decode()
    assert not PickTurn.objects.exists()

    done = act(admin_client, LITTERS, "open_picking", litter).content.decode()

    assert "Maple and Hunter: picking open — Family 1 (#1) until" in done
    assert choosing_now(litter) == "Family 1"
    assert entry(1).status == WaitlistEntry.Status.CHOOSING
    litter.refresh_from_db()
    assert litter.picking == Litter.Picking.OPEN
    assert not litter.waitlist_open
    opened = AuditLog.objects.get(action="catalogue.litter.picking_opened")
    assert opened.actor == "staff:admin"
    assert SideEffect.objects.filter(kind=Effect.WAITLIST_TURN, recipient="family1@example.com")


def test_opening_picking_again_is_a_warning_and_changes_nothing(admin_client):
    litter = litter_with_families(2)
    act(admin_client, LITTERS, "open_picking", litter)

    again = act(admin_client, LITTERS, "open_picking", litter)

    assert again.status_code == 200
    assert f"Maple and Hunter: {PICKING_REFUSED_MESSAGE}" in again.content.decode()
    assert choosing_now(litter) == "Family 1"
    assert PickTurn.objects.count() == 1


def test_opening_picking_with_nobody_on_the_list_says_so_and_closes_it(admin_client):
    litter = litter_with_families(0)

    done = act(admin_client, LITTERS, "open_picking", litter).content.decode()

    assert "nobody could be offered a puppy" in done
    assert Litter.objects.get(pk=litter.pk).picking == Litter.Picking.CLOSED


def test_skipping_the_family_choosing_opens_the_next_familys_turn(admin_client):
    litter = litter_with_families(2)
    act(admin_client, LITTERS, "open_picking", litter)

    done = act(admin_client, LITTERS, "skip_turn", litter).content.decode()

    assert "family skipped — now Family 2 (#2) until" in done
    assert choosing_now(litter) == "Family 2"
    assert entry(1).status == WaitlistEntry.Status.PASSED
    skipped = PickTurn.objects.get(entry=entry(1))
    assert skipped.outcome == PickTurn.Outcome.SKIPPED
    assert AuditLog.objects.filter(action="reservations.waitlist.passed", actor="staff:admin")


def test_skipping_when_nobody_is_choosing_is_a_warning(admin_client):
    litter = litter_with_families(1)

    done = act(admin_client, LITTERS, "skip_turn", litter).content.decode()

    assert "nobody is choosing now: nothing changed." in done


def test_closing_picking_sends_the_family_choosing_back_to_waiting(admin_client):
    litter = litter_with_families(2)
    act(admin_client, LITTERS, "open_picking", litter)

    done = act(admin_client, LITTERS, "close_picking", litter).content.decode()

    assert "picking closed" in done
    assert not PickTurn.objects.filter(outcome=PickTurn.Outcome.OPEN).exists()
    assert entry(1).status == WaitlistEntry.Status.WAITING
    assert Litter.objects.get(pk=litter.pk).picking == Litter.Picking.CLOSED
    again = act(admin_client, LITTERS, "close_picking", litter).content.decode()
    assert "picking is not open: nothing changed." in again


def test_moving_a_family_to_first_place_shifts_the_others_down(admin_client):
    litter = litter_with_families(3)

    asked = act(admin_client, FAMILIES, "move_family", entry(3), confirm=False)
    assert "New position" in asked.content.decode()

    done = act(admin_client, FAMILIES, "move_family", entry(3), position="1").content.decode()

    assert "Family 3 moved to position 1" in done
    positions = dict(
        WaitlistEntry.objects.filter(litter=litter).values_list(
            "reservation__buyer_name", "position"
        )
    )
    assert positions == {"Family 3": 1, "Family 1": 2, "Family 2": 3}
    moved = AuditLog.objects.filter(action="reservations.waitlist.moved", actor="staff:admin")
    assert moved.count() == 3
    assert SideEffect.objects.filter(kind=Effect.WAITLIST_MOVED).count() == 3


def test_moving_two_families_at_once_is_refused(admin_client):
    litter_with_families(2)

    done = act(admin_client, FAMILIES, "move_family", entry(1), entry(2), position="2")

    assert "Select one family to move" in done.content.decode()
    assert entry(1).position == 1


def test_a_family_that_passed_is_carried_over_to_a_later_litter(admin_client):
    litter = litter_with_families(2)
    later = open_litter(name="Juniper and Hunter", slug="juniper-hunter")
    on_list(later, 9)
    act(admin_client, LITTERS, "open_picking", litter)
    act(admin_client, LITTERS, "skip_turn", litter)

    asked = act(admin_client, FAMILIES, "transfer_family", entry(1), confirm=False)
    assert "Later litter" in asked.content.decode()
    done = act(admin_client, FAMILIES, "transfer_family", entry(1), litter=str(later.pk))

    assert "Family 1 is now #2 on the Juniper and Hunter waiting list." in done.content.decode()
    moved = entry(1)
    assert (moved.litter_id, moved.position, moved.status) == (later.pk, 2, "waiting")
    assert AuditLog.objects.filter(
        action="reservations.waitlist.transferred", actor="staff:admin"
    ).exists()
    again = act(admin_client, FAMILIES, "transfer_family", entry(1), litter=str(later.pk))
    assert "cannot be carried over" in again.content.decode()


class FormValues(HTMLParser):
    """What a browser would post from a page's form: every field's current value."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[name] = "on"
            else:
                self.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data

    @classmethod
    def of(cls, client, url: str) -> dict[str, str]:
        parser = cls()
        parser.feed(client.get(url).content.decode())
        return parser.values


def change_form(admin_client, litter: Litter) -> dict[str, str]:
    return FormValues.of(admin_client, f"{LITTERS}{litter.pk}/change/")


def test_the_litter_born_in_the_form_tells_every_family_on_its_list(admin_client):
    litter = litter_with_families(2, stage=Litter.Stage.EXPECTED, born_on=None)
    joined(litter, 3)  # still paying: not on the list, not told
    values = change_form(admin_client, litter)
    born = date.today() - timedelta(days=1)

    saved = admin_client.post(
        f"{LITTERS}{litter.pk}/change/",
        {**values, "stage": "born", "born_on": born.isoformat(), "description": "Four puppies."},
    )

    assert saved.status_code == 302, saved.content.decode()[:2000]
    litter.refresh_from_db()
    assert (litter.stage, litter.born_on, litter.description) == ("born", born, "Four puppies.")
    told = SideEffect.objects.filter(kind=Effect.WAITLIST_BORN)
    assert sorted(told.values_list("recipient", flat=True)) == [
        "family1@example.com",
        "family2@example.com",
    ]
    stage = AuditLog.objects.get(action="catalogue.litter.stage")
    assert stage.actor == "staff:admin"


def test_saving_the_form_does_not_touch_picking(admin_client):
    litter = litter_with_families(1)
    values = change_form(admin_client, litter)
    act(admin_client, LITTERS, "open_picking", litter)  # meanwhile, in another tab

    admin_client.post(f"{LITTERS}{litter.pk}/change/", {**values, "refund_days": "7"})

    litter.refresh_from_db()
    assert litter.refund_days == 7
    assert litter.picking == Litter.Picking.OPEN
    assert not SideEffect.objects.filter(kind=Effect.WAITLIST_BORN).exists()


def test_the_litter_page_lists_its_families_and_who_is_choosing_until_when(admin_client):
    litter = litter_with_families(2)
    on_list(litter, 3)
    WaitlistEntry.objects.filter(pk=entry(3).pk).update(colour="Cream", notes="Quiet home")
    act(admin_client, LITTERS, "open_picking", litter)

    page = admin_client.get(f"{LITTERS}{litter.pk}/change/").content.decode()

    for n in (1, 2, 3):
        assert f"Family {n}" in page
        assert f"family{n}@example.com" in page
    assert "Cream" in page
    assert "“Quiet home”" in page
    assert "400.00 EUR" in page  # the deposit, linked to its reservation
    assert f"/admin/reservations/reservation/{entry(1).reservation_id}/change/" in page
    assert "Family 1 (#1) until" in page  # choosing now, in the Picking fieldset
    assert "choosing until" in page  # and on the family's row


def test_a_list_deposit_shows_its_waiting_list_where_the_puppy_would_be(admin_client):
    litter = litter_with_families(1)
    reservation_id = entry(1).reservation_id

    listed = admin_client.get("/admin/reservations/reservation/").content.decode()
    detail = admin_client.get(f"/admin/reservations/reservation/{reservation_id}/change/")

    assert '">Waiting list: Maple and Hunter</a></th>' in listed  # the list's first column
    assert detail.status_code == 200
    assert "Waiting list: Maple and Hunter for Family 1" in detail.content.decode()
    assert f"{LITTERS}{litter.pk}/change/" in detail.content.decode()


def test_the_dashboard_shows_the_open_pick_turns(admin_client):
    litter = litter_with_families(2)
    assert "No pick turns open." in admin_client.get("/admin/").content.decode()
    act(admin_client, LITTERS, "open_picking", litter)

    home = admin_client.get("/admin/").content.decode()

    assert "Families choosing now" in home
    assert "Maple and Hunter" in home
    assert f"{FAMILIES}{entry(1).pk}/change/" in home


def test_the_breeder_keeps_a_puppy_from_its_page(admin_client):
    puppy = PuppyFactory(name="Sorrel")

    page = admin_client.get(f"/admin/catalogue/puppy/{puppy.pk}/change/").content.decode()

    assert 'name="kept"' in page


def test_the_breeder_adds_a_litter_with_its_waiting_list(admin_client):
    assert admin_client.get(f"{LITTERS}add/").status_code == 200

    added = admin_client.post(
        f"{LITTERS}add/",
        {
            **FormValues.of(admin_client, f"{LITTERS}add/"),
            "name": "Juniper and Hunter",
            "slug": "juniper-hunter",
            "dam": "Juniper",
            "sire": "Hunter",
            "stage": "expected",
            "expected_on": (date.today() + timedelta(days=20)).isoformat(),
            "usual_price": "2800.00",
            "waitlist_open": "on",
        },
    )

    assert added.status_code == 302
    litter = Litter.objects.get(slug="juniper-hunter")
    assert litter.waitlist_open
    assert litter.list_deposit is not None
    assert litter.picking == Litter.Picking.NOT_OPEN


def test_a_familys_own_page_in_the_back_office_is_read_only(admin_client):
    litter_with_families(1)

    page = admin_client.get(f"{FAMILIES}{entry(1).pk}/change/")

    assert page.status_code == 200
    assert "Family 1" in page.content.decode()
    assert 'name="position"' not in page.content.decode()


def test_a_litter_marked_born_needs_its_birth_date(admin_client):
    litter = litter_with_families(1, stage=Litter.Stage.EXPECTED, born_on=None)
    values = change_form(admin_client, litter)

    refused = admin_client.post(f"{LITTERS}{litter.pk}/change/", {**values, "stage": "born"})

    assert refused.status_code == 200
    assert "When was the litter born?" in refused.content.decode()
    assert Litter.objects.get(pk=litter.pk).stage == Litter.Stage.EXPECTED
    assert not SideEffect.objects.filter(kind=Effect.WAITLIST_BORN).exists()
