"""A waiting list's emails, as a family and the breeder read them: their place and how many
families are ahead, the deposit's terms in plain words, their turn and until when, and the
link to their own page; and the shop's other emails about a list deposit (no puppy yet)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from kennel.catalogue.models import Litter
from kennel.payments.owner import reservation_refund, waitlist_withdraw
from kennel.payments.services import waitlist_checkout_start
from kennel.reservations import picking, services, waitlist
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from tests.factories import LitterFactory, PuppyFactory
from tests.notifications.conftest import OWNER
from tests.notifications.helpers import drain
from tests.payments import paypal_helpers, stripe_helpers
from tests.payments.flow import process_webhooks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shop_site", "owner"),
]

GO_HOME = date(2027, 3, 1)


def _litter(**fields: Any) -> Litter:
    values: dict[str, Any] = {
        "name": "Spring litter",
        "waitlist_open": True,
        "usual_price": Decimal("2500.00"),
        "waitlist_deposit": Decimal("300.00"),
        "go_home_on": GO_HOME,
        "refund_days": 14,
        "pick_window_minutes": 60,
        **fields,
    }
    return cast(Litter, LitterFactory(**values))


def _join(litter: Litter, name: str = "Jane Doe", **wishes: str) -> WaitlistEntry:
    """A family joins and its deposit is confirmed, under lock, as payments confirm it."""
    email = name.lower().replace(" ", ".") + "@example.com"
    entry = waitlist.waitlist_join(
        litter_slug=litter.slug,
        buyer=Buyer(name=name, email=email, phone="+33 6 12 34 56 78"),
        provider="stripe",
        preferences=waitlist.Preferences(**wishes),
    )
    with transaction.atomic():
        reservation = services.lock_for_payment(reservation_id=entry.reservation_id)
        assert services.reservation_confirm(reservation, payment_id=f"pi_{name[:4]}", actor="test")
    return WaitlistEntry.objects.select_related("reservation").get(pk=entry.pk)


def _sent(to: str, subject_start: str = "") -> list[tuple[str, str, str]]:
    """What `to` received (subject, text, HTML), after the worker ran the outbox."""
    drain()
    got = []
    for message in mail.outbox:
        if message.to == [to] and str(message.subject).startswith(subject_start):
            assert isinstance(message, EmailMultiAlternatives)
            [(html, mimetype)] = message.alternatives
            assert mimetype == "text/html"
            got.append((str(message.subject), str(message.body), str(html)))
    return got


def _one(to: str, subject_start: str) -> tuple[str, str, str]:
    [message] = _sent(to, subject_start)
    return message


def _page(entry: WaitlistEntry) -> str:
    return f"https://shop.example/waitlist/{entry.token}/"


def _paris(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo("Europe/Paris"))
    return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def test_a_family_that_joined_reads_its_place_the_families_ahead_the_terms_and_its_page():
    litter = _litter()
    _join(litter, "Ann Early")
    entry = _join(litter, "Jane Doe")

    subject, text, html = _one("jane.doe@example.com", "You are number")

    assert subject == "You are number 2 on the waiting list for Spring litter"
    for body in (text, html):
        assert "you are on the waiting list for Spring litter" in body
        assert "You are number 2 on the list. 1 family is ahead of you." in body
        assert "300.00 EUR" in body
        assert (
            "refundable in full if you leave the list until 14 days before the puppies go home"
            in body
        )
        assert "That is, until 15 February 2027." in body
        assert "families choose their puppy in the order of the list" in body
        assert _page(entry) in body
        assert "None" not in body
    assert f'href="{_page(entry)}"' in html


def test_the_first_family_has_nobody_ahead_and_reads_non_refundable_terms():
    litter = _litter(deposit_terms=Litter.DepositTerms.NON_REFUNDABLE, go_home_on=None)
    _join(litter)

    _subject, text, html = _one("jane.doe@example.com", "You are number")

    for body in (text, html):
        assert "No family is ahead of you." in body
        assert "Your deposit of 300.00 EUR is non-refundable." in body
        assert "refundable in full" not in body


def test_a_transferable_deposit_is_told_as_counting_towards_a_later_litter():
    _join(_litter(deposit_terms=Litter.DepositTerms.TRANSFERABLE))

    _subject, text, _html = _one("jane.doe@example.com", "You are number")

    assert "it is transferable: if you do not choose a puppy from this litter" in text


def test_the_breeder_reads_who_joined_their_wishes_the_deposit_and_the_back_office_link():
    litter = _litter()
    entry = _join(litter, "Jane Doe", sex="female", colour="golden", notes="A calm one, please")

    subject, text, html = _one(OWNER, "Waiting list for")

    assert subject == "Waiting list for Spring litter: Jane Doe joined as number 1"
    admin_url = (
        f"https://shop.example/admin/reservations/reservation/{entry.reservation_id}/change/"
    )
    for body in (text, html):
        assert "Jane Doe has paid the list deposit of 300.00 EUR and is number 1" in body
        assert "jane.doe@example.com" in body
        assert "+33 6 12 34 56 78" in body
        assert "Female" in body
        assert "golden" in body
        assert "A calm one, please" in body
        assert admin_url in body
        assert "pi_Jane" in body


def _picking(litter: Litter, *families: str) -> list[WaitlistEntry]:
    entries = [_join(litter, name) for name in families]
    PuppyFactory(litter=litter, name="Bella", price=Decimal("2500.00"))
    PuppyFactory(litter=litter, name="Daisy", price=Decimal("2500.00"))
    picking.picking_open(litter_id=litter.pk, actor="test")
    return entries


def test_the_family_whose_turn_opens_reads_until_when_how_many_puppies_and_its_page():
    litter = _litter()
    [first, _second] = _picking(litter, "Jane Doe", "Tom Late")
    turn = PickTurn.objects.get(entry=first, outcome=PickTurn.Outcome.OPEN)

    subject, text, html = _one("jane.doe@example.com", "It is your turn")

    assert subject == "It is your turn to choose a puppy from Spring litter"
    ends = _paris(turn.ends_at)
    assert ends.endswith(" CET")  # the zone, as the shop's other times show it
    for body in (text, html):
        assert "It is your turn to choose a puppy from Spring litter." in body
        assert ends in body
        assert "There are 2 puppies you can choose from." in body
        assert _page(first) in body
    assert _sent("tom.late@example.com", "It is your turn") == []


def test_a_family_whose_time_runs_short_is_reminded_once_when_its_turn_ends():
    litter = _litter()
    [first] = _picking(litter, "Jane Doe")
    turn = PickTurn.objects.get(entry=first, outcome=PickTurn.Outcome.OPEN)

    picking.turns_time_out(now=turn.ends_at - timedelta(minutes=5))
    picking.turns_time_out(now=turn.ends_at - timedelta(minutes=4))

    subject, text, html = _one("jane.doe@example.com", "Your turn to choose")
    assert subject == f"Your turn to choose from Spring litter ends on {_paris(turn.ends_at)}"
    for body in (text, html):
        assert "your turn to choose a puppy from Spring litter ends on" in body
        assert _paris(turn.ends_at) in body
        assert "There are 2 puppies you can choose from." in body
        assert _page(first) in body


def test_a_family_that_passes_reads_what_happens_to_its_deposit_and_the_next_family_its_turn():
    litter = _litter()
    [first, second] = _picking(litter, "Jane Doe", "Tom Late")

    picking.waitlist_pass(token=first.token)

    subject, text, html = _one("jane.doe@example.com", "Your turn to choose")
    assert subject == "Your turn to choose from Spring litter has passed"
    for body in (text, html):
        assert "You passed your turn to choose a puppy from Spring litter" in body
        assert "Your deposit stays with the list for a later litter." in body
        assert "refund your 300.00 EUR in full until 15 February 2027" in body
        assert _page(first) in body
    _subject, next_turn, _html = _one("tom.late@example.com", "It is your turn")
    assert "There are 2 puppies you can choose from." in next_turn
    assert _page(second) in next_turn
    # Jane's own "your turn" email went out after she passed: it says the turn is over.
    _subject, late_turn, _html = _one("jane.doe@example.com", "It is your turn")
    assert "came while this email was on its way, and ended on" in late_turn
    assert "puppies you can choose from" not in late_turn


def test_when_the_breeder_closes_choosing_every_family_still_waiting_is_told_once():
    """Tried: the breeder closed picking during a family's turn; that family (told "it is your
    turn") and the family after it were never told, and waited for a turn that could not
    come."""
    litter = _litter()
    [first, second, third] = _picking(litter, "Jane Doe", "Tom Late", "Ann Next")
    picking.waitlist_pass(token=first.token)  # Tom's turn is open, Ann waits after him

    assert picking.picking_close(litter_id=litter.pk, actor="admin:breeder")
    assert not picking.picking_close(litter_id=litter.pk, actor="admin:breeder")

    for entry, address in ((second, "tom.late@example.com"), (third, "ann.next@example.com")):
        subject, text, html = _one(address, "Choosing from")
        assert subject == "Choosing from Spring litter has closed"
        for body in (text, html):
            assert "has closed choosing from Spring litter before a puppy was reserved" in body
            assert "refund your 300.00 EUR in full until 15 February 2027" in body
            assert _page(entry) in body
    assert _sent("jane.doe@example.com", "Choosing from") == []  # she passed: told then


def test_a_turn_that_times_out_tells_a_transferable_deposit_stays_for_a_later_litter():
    litter = _litter(deposit_terms=Litter.DepositTerms.TRANSFERABLE)
    [first] = _picking(litter, "Jane Doe")
    turn = PickTurn.objects.get(entry=first, outcome=PickTurn.Outcome.OPEN)

    picking.turns_time_out(now=turn.ends_at + timedelta(seconds=1))

    _subject, text, _html = _one(
        "jane.doe@example.com", "Your turn to choose from Spring litter has"
    )
    assert "is transferable, as the terms you accepted say" in text
    assert "Maple Hill Goldens towards a puppy from a later litter" in text


def test_a_family_moved_on_the_list_reads_its_new_place_and_those_whose_place_shifted_too():
    litter = _litter()
    first, _second, third = (_join(litter, name) for name in ("Ann Early", "Bob Mid", "Jane Doe"))

    assert waitlist.waitlist_move(entry_id=third.pk, position=1, actor="owner:test")

    subject, text, html = _one("jane.doe@example.com", "Your place")
    assert subject == "Your place on the waiting list for Spring litter is now number 1"
    for body in (text, html):
        assert "you are now number 1." in body
        assert "No family is ahead of you." in body
        assert _page(third) in body
    _subject, shifted, _html = _one("ann.early@example.com", "Your place")
    assert "you are now number 2. 1 family is ahead of you." in shifted
    assert _page(first) in shifted


def test_the_families_are_told_the_litter_is_born_and_when_picking_comes():
    litter = _litter(stage=Litter.Stage.EXPECTED, born_on=None)
    entry = _join(litter)

    waitlist.litter_stage_set(
        litter_id=litter.pk, stage=Litter.Stage.BORN, born_on=date(2026, 12, 1), actor="test"
    )

    subject, text, html = _one("jane.doe@example.com", "Spring litter")
    assert subject == "Spring litter is born"
    for body in (text, html):
        assert "Good news: Spring litter is born, on 1 December 2026." in body
        assert "When the puppies are ready to go home (from 1 March 2027)" in body
        assert "You are number 1 on the list." in body
        assert _page(entry) in body


def test_the_pick_confirmation_shows_the_carried_deposit_and_the_balance_due_at_pickup():
    litter = _litter()
    [first] = _picking(litter, "Jane Doe")
    bella = litter.puppies.get(name="Bella")

    reservation = picking.waitlist_pick(token=first.token, puppy_slug=bella.slug)

    subject, text, html = _one("jane.doe@example.com", "Your deposit")
    assert subject == "Your deposit for Bella is confirmed"
    status_url = f"https://shop.example/reservations/{reservation.token}/"
    for body in (text, html):
        assert "You chose Bella from Spring litter" in body
        assert "300.00 EUR" in body
        assert "price of 2,500.00 EUR; the balance of 2,200.00 EUR is settled" in body
        assert status_url in body
    owner_subject, owner_text, _html = _one(OWNER, "Deposit received")
    assert owner_subject == "Deposit received: Bella, for Jane Doe"
    assert "Jane Doe chose Bella from the waiting list for Spring litter" in owner_text


def test_an_unpaid_list_deposit_that_expires_names_the_waiting_list_and_links_the_litter():
    litter = _litter()
    entry = waitlist.waitlist_join(
        litter_slug=litter.slug,
        buyer=Buyer(name="Jane Doe", email="jane.doe@example.com", phone="+33 6 12 34 56 78"),
        provider="stripe",
        preferences=waitlist.Preferences(),
    )

    services.reservations_expire_due(now=timezone.now() + timedelta(days=1))

    assert Reservation.objects.get(pk=entry.reservation_id).status == Reservation.Status.EXPIRED
    subject, text, html = _one("jane.doe@example.com", "Your place")
    assert subject == "Your place on the waiting list for Spring litter was not paid in time"
    for body in (text, html):
        assert "The deposit for the waiting list for Spring litter was not paid in time" in body
        assert "you are not on the list" in body
        assert f"https://shop.example/litters/{litter.slug}/" in body
        assert "None" not in body


def test_names_typed_by_a_family_stay_text_in_the_waiting_list_emails():
    litter = _litter(name="Spring <b>litter</b>")
    _join(litter, "Jane Doe", notes="<script>x</script>")

    subject, _text, html = _one(OWNER, "Waiting list for")

    assert "\n" not in subject
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b>litter</b>" not in html


@pytest.mark.parametrize(
    ("kind", "subject", "phrase"),
    [
        (
            "processing",
            "Your payment for the waiting list for Spring litter is being processed",
            "Your place on the list is given when the payment is confirmed",
        ),
        (
            "failed",
            "Your payment for the waiting list for Spring litter did not go through",
            "so nothing was charged and you are not on the list",
        ),
    ],
)
def test_a_list_deposit_being_processed_or_failing_names_the_waiting_list(kind, subject, phrase):
    litter = _litter()
    entry = waitlist.waitlist_join(
        litter_slug=litter.slug,
        buyer=Buyer(name="Jane Doe", email="jane.doe@example.com", phone="+33 6 12 34 56 78"),
        provider="stripe",
        preferences=waitlist.Preferences(),
    )
    if kind == "processing":
        with transaction.atomic():
            reservation = services.lock_for_payment(reservation_id=entry.reservation_id)
            services.reservation_mark_processing(reservation, actor="test")
        link = _page(entry)
    else:
        services.reservation_release(
            reservation_id=entry.reservation_id,
            status="released",
            actor="test",
            reason="payment_failed",
        )
        link = f"https://shop.example/litters/{litter.slug}/"

    got_subject, text, html = _one("jane.doe@example.com", "Your payment")

    assert got_subject == subject
    for body in (text, html):
        assert phrase in body
        assert link in body
        assert "None" not in body


def test_a_family_withdrawing_in_time_is_told_its_list_deposit_is_refunded_and_why(
    sandbox, live_server
):
    litter = _litter(go_home_on=timezone.localdate() + timedelta(days=30))
    entry, checkout_url = waitlist_checkout_start(
        litter_slug=litter.slug,
        buyer=Buyer(name="Jane Doe", email="jane.doe@example.com", phone="+33 6 12 34 56 78"),
        provider="stripe",
        preferences=waitlist.Preferences(),
        site_url=live_server.url,
    )
    paypal_helpers.come_back(stripe_helpers.choose(checkout_url, "pay"))
    process_webhooks(sandbox)

    assert waitlist_withdraw(token=entry.token) is not None

    subject, text, html = _one("jane.doe@example.com", "Your deposit")
    assert subject == "Your deposit for the waiting list for Spring litter is being refunded"
    for body in (text, html):
        assert "300.00 EUR" in body
        assert "for the waiting list for Spring litter in full" in body
        assert "you left the waiting list for Spring litter while the terms you accepted" in body
    owner_subject, owner_text, _html = _one(OWNER, "Refund issued")
    assert owner_subject == "Refund issued: waiting list for Spring litter, Jane Doe"
    assert "the family left the waiting list for Spring litter" in owner_text
    assert "reason: The family left the waiting list (refundable terms)" in owner_text


def _passed_email(address: str) -> tuple[str, str]:
    _subject, text, html = _one(address, "Your turn to choose from Spring litter has passed")
    for body in (text, html):
        assert "you passed, the time ran out" not in body
    return text, html


def test_a_family_that_passes_is_told_it_passed_not_every_possible_cause():
    """Tried: each way a turn ends (passed, time out, skipped by the breeder, nothing left
    matching) sent the same email listing all four causes."""
    litter = _litter()
    [first, _second] = _picking(litter, "Jane Doe", "Tom Late")

    picking.waitlist_pass(token=first.token)

    for body in _passed_email("jane.doe@example.com"):
        assert "You passed your turn to choose a puppy from Spring litter" in body
        assert "time ran out" not in body
        assert "breeder moved on" not in body


def test_a_family_whose_time_ran_out_is_told_its_time_ran_out():
    litter = _litter()
    [first, _second] = _picking(litter, "Jane Doe", "Tom Late")
    turn = PickTurn.objects.get(entry=first, outcome=PickTurn.Outcome.OPEN)

    picking.turns_time_out(now=turn.ends_at + timedelta(seconds=1))

    for body in _passed_email("jane.doe@example.com"):
        assert "Your time to choose a puppy from Spring litter ran out" in body
        assert "You passed" not in body
        assert "breeder moved on" not in body


def test_a_family_the_breeder_skipped_is_told_the_breeder_moved_on():
    litter = _litter()
    [_first, _second] = _picking(litter, "Jane Doe", "Tom Late")

    assert picking.waitlist_skip(litter_id=litter.pk, actor="staff:breeder")

    for body in _passed_email("jane.doe@example.com"):
        assert "The breeder moved on to the next family" in body
        assert "You passed" not in body
        assert "ran out" not in body


def test_a_family_whose_wishes_no_puppy_left_matches_is_told_so():
    litter = _litter()
    _join(litter, "Jane Doe", sex="male")
    _join(litter, "Tom Late")
    PuppyFactory(litter=litter, name="Bella", sex="female", price=Decimal("2500.00"))

    picking.picking_open(litter_id=litter.pk, actor="test")

    for body in _passed_email("jane.doe@example.com"):
        assert "No puppy left in Spring litter matches your wishes" in body
        assert "You passed" not in body
        assert "breeder moved on" not in body


def _join_paid(litter: Litter, name: str, sandbox: Any, live_server: Any) -> WaitlistEntry:
    """A family joins and pays its deposit in the sandbox (so that it can be refunded); the
    emails it owes stay queued until the test runs the worker."""
    entry, checkout_url = waitlist_checkout_start(
        litter_slug=litter.slug,
        buyer=Buyer(
            name=name,
            email=name.lower().replace(" ", ".") + "@example.com",
            phone="+33 6 12 34 56 78",
        ),
        provider="stripe",
        preferences=waitlist.Preferences(),
        site_url=live_server.url,
    )
    paypal_helpers.come_back(stripe_helpers.choose(checkout_url, "pay"))
    process_webhooks(sandbox)
    return entry


def test_a_family_whose_list_deposit_the_breeder_refunded_is_not_told_it_still_has_a_place(
    sandbox, live_server
):
    """The worker runs late (a mail outage, a busy queue): the family joined, the litter was
    born and the list reordered, then the breeder refunded its deposit before any of those
    emails went. Tried: the family then read "You are number 1 on the list" and "you are now
    number 2" after its refund, and the breeder's refund email gave it "Position: 1"."""
    litter = _litter(stage=Litter.Stage.EXPECTED, born_on=None)
    jane, bob = (_join_paid(litter, name, sandbox, live_server) for name in ("Jane Doe", "Bob Mid"))
    waitlist.litter_stage_set(
        litter_id=litter.pk, stage=Litter.Stage.BORN, born_on=date(2026, 12, 1), actor="test"
    )
    assert waitlist.waitlist_move(entry_id=bob.pk, position=1, actor="owner:test")

    assert reservation_refund(reservation_id=jane.reservation_id, actor="owner:test")

    jane_emails = _sent("jane.doe@example.com")
    # Only the refund: its joining, the birth and the move are no longer true when they go.
    assert [subject for subject, _text, _html in jane_emails] == [
        "Your deposit for the waiting list for Spring litter is being refunded"
    ]
    for _subject, text, html in jane_emails:
        for body in (text, html):
            assert "on the list" not in body.replace("waiting list for", "")
            assert "number" not in body
    _owner_subject, owner_text, owner_html = _one(OWNER, "Refund issued")
    assert "Position" not in owner_text
    assert "Position" not in owner_html
    # The family still in line is told its place all the same.
    assert "You are number 1 on the list." in _one("bob.mid@example.com", "Spring litter is")[1]


def _breeder_told_jane_joined_off_the_list() -> tuple[str, str]:
    """The breeder's "joined" email about Jane, no longer on the list: that she paid, and not
    the place she had (text, HTML)."""
    subject, text, html = _one(OWNER, "Waiting list for")
    assert subject == "Waiting list for Spring litter: Jane Doe joined, no longer on the list"
    for body in (text, html):
        assert "Jane Doe has paid the list deposit of 300.00 EUR." in body
        assert "number 1" not in body
        assert "Position" not in body
        assert "jane.doe@example.com" in body
    return text, html


def test_the_breeder_hears_a_family_joined_but_not_its_place_once_its_deposit_was_refunded(
    sandbox, live_server
):
    """The worker runs late: a family joined and paid, then its deposit was refunded before
    the breeder's "joined" email went. That money came in stays true; its place does not.
    Tried: the breeder read "Jane Doe joined as number 1 … is number 1 on the list" after the
    refund."""
    litter = _litter()
    jane = _join_paid(litter, "Jane Doe", sandbox, live_server)
    assert reservation_refund(reservation_id=jane.reservation_id, actor="owner:test")

    for body in _breeder_told_jane_joined_off_the_list():
        assert "This deposit has since been refunded: the family is no longer on the list." in body


def test_the_breeder_hears_a_family_that_withdrew_before_the_email_went_has_left_the_list():
    litter = _litter(deposit_terms=Litter.DepositTerms.NON_REFUNDABLE)
    jane = _join(litter, "Jane Doe")
    assert waitlist_withdraw(token=jane.token) is None  # the breeder keeps the deposit

    for body in _breeder_told_jane_joined_off_the_list():
        assert "The family has since left the list (Withdrawn)." in body
        assert "refunded" not in body


def test_a_family_refunded_after_choosing_closed_is_not_told_its_deposit_stays_with_the_list(
    sandbox, live_server
):
    """Picking closes, then the breeder refunds a waiting family before the worker sent its
    "choosing has closed" email. Tried: it read "Your deposit stays with the list for a later
    litter" after its deposit was refunded."""
    litter = _litter(go_home_on=timezone.localdate() + timedelta(days=30))
    _jane, bob = (
        _join_paid(litter, name, sandbox, live_server) for name in ("Jane Doe", "Bob Mid")
    )
    PuppyFactory(litter=litter, name="Bella", price=Decimal("2500.00"))
    picking.picking_open(litter_id=litter.pk, actor="test")
    assert picking.picking_close(litter_id=litter.pk, actor="admin:breeder")

    assert reservation_refund(reservation_id=bob.reservation_id, actor="owner:test")

    bob_emails = _sent("bob.mid@example.com")
    assert [subject for subject, _text, _html in bob_emails if "closed" in subject] == []
    for _subject, text, html in bob_emails:
        for body in (text, html):
            assert "stays with the list" not in body
    # Jane, still on the list (choosing when it closed), is told.
    _subject, text, _html = _one("jane.doe@example.com", "Choosing from")
    assert "Your deposit stays with the list for a later litter." in text


def test_a_family_whose_only_match_a_shop_buyer_is_paying_for_reads_until_when_then_why_it_passed():
    litter = _litter()
    first = _join(litter, "Jane Doe", sex="female")
    second = _join(litter, "Tom Late")
    PuppyFactory(litter=litter, name="Bella", slug="bella", sex="female")
    PuppyFactory(litter=litter, name="Max", slug="max", sex="male")
    shop = services.reservation_hold(
        puppy_slug="bella",
        buyer=Buyer(name="Shop Buyer", email="shop@example.com", phone="+33 6 12 34 56 78"),
        provider="stripe",
    )
    picking.picking_open(litter_id=litter.pk, actor="test")

    _subject, text, html = _one("jane.doe@example.com", "It is your turn")

    for body in (text, html):
        assert (
            f"A buyer in the shop is paying for Bella until {_paris(shop.expires_at)}; if they "
            "have not paid by then, you can choose Bella on your page." in " ".join(body.split())
        )
        assert "you can choose from" not in body
        assert _page(first) in body

    with transaction.atomic():  # the shop buyer pays: nothing left for Jane
        paying = services.lock_for_payment(reservation_id=shop.pk)
        assert services.reservation_confirm(paying, payment_id="pi_shop", actor="test")
    assert picking.turns_nothing_left() == 1

    subject, text, _html = _one("jane.doe@example.com", "Your turn to choose")
    assert subject == "Your turn to choose from Spring litter has passed"
    assert "No puppy left in Spring litter matches your wishes" in " ".join(text.split())
    _subject, next_turn, _html = _one("tom.late@example.com", "It is your turn")
    assert "There is 1 puppy you can choose from." in next_turn
    assert _page(second) in next_turn
