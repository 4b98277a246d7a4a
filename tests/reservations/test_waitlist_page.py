"""/waitlist/<token>/: a family's page on a litter's waiting list — where they stand, their
deposit and its terms, and in their turn the puppies they may choose — and its buttons
(*Choose*, *Pass*, *Withdraw*): each a POST answered 303, each refusal a page saying why
(409), never a 500."""

import html as html_
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

import pytest
from django.urls import reverse
from django.utils import timezone

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import locked_transaction
from kennel.payments.models import Refund
from kennel.payments.owner import reservation_refund
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.picking import (
    NOT_YOUR_TURN_MESSAGE,
    PUPPY_HELD_MESSAGE,
    picking_close,
    picking_open,
    waitlist_skip,
)
from kennel.reservations.services import (
    lock_for_payment,
    reservation_confirm,
    reservation_hold,
    reservation_release,
    reservation_set_checkout,
    reservations_expire_due,
)
from kennel.reservations.waitlist import (
    ENTRY_NOT_FOUND_MESSAGE,
    NOT_WITHDRAWABLE_MESSAGE,
    Preferences,
    waitlist_join,
)
from tests.catalogue.test_puppy_admin_save import litter_form
from tests.factories import LitterFactory, PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db

E = WaitlistEntry.Status
BORN = date(2026, 10, 1)


@pytest.fixture
def litter() -> Litter:
    return cast(
        Litter,
        LitterFactory(
            name="Autumn litter",
            slug="autumn",
            open_list=True,
            born_on=BORN,
            deposit_terms=Litter.DepositTerms.NON_REFUNDABLE,
        ),
    )


def joined(litter: Litter, n: int, *, sex: str = "any") -> WaitlistEntry:
    """A family that filled in the join form, its deposit not paid yet."""
    return waitlist_join(
        litter_slug=litter.slug,
        buyer=Buyer(name=f"Family {n}", email=f"family{n}@example.com", phone="+33 600000000"),
        provider="stripe",
        preferences=Preferences(sex=sex),
    )


def paid(entry: WaitlistEntry) -> WaitlistEntry:
    with locked_transaction():
        reservation = lock_for_payment(reservation_id=entry.reservation_id)
        reservation_confirm(reservation, payment_id=f"pi_{entry.pk}", actor="test")
    entry.refresh_from_db()
    return entry


def puppies(litter: Litter) -> tuple[Puppy, Puppy]:
    return cast(
        tuple[Puppy, Puppy],
        (
            PuppyFactory(
                litter=litter, name="Amber", slug="amber", sex="female", price=Decimal("2000.00")
            ),
            PuppyFactory(
                litter=litter, name="Bruno", slug="bruno", sex="male", price=Decimal("1800.00")
            ),
        ),
    )


def text(page) -> str:
    return html_.unescape(page.content.decode())


def post(client, entry: WaitlistEntry, action: str, **data):
    url = reverse(f"reservations:waitlist_{action}", kwargs={"token": entry.token})
    return client.post(url, data)


@pytest.mark.parametrize("action", ["pick", "pass", "withdraw"])
@pytest.mark.parametrize("method", ["get", "head"])
def test_a_buttons_address_opened_by_get_leads_to_the_familys_page(client, litter, action, method):
    """Tried: switching the language on a refused Choose (shown at .../pick/) reloaded that
    address with GET: a blank 405."""
    entry = paid(joined(litter, 1))
    url = reverse(f"reservations:waitlist_{action}", kwargs={"token": entry.token})

    answer = getattr(client, method)(url)

    assert answer.status_code == 303
    assert answer["Location"] == entry.get_absolute_url()
    assert client.put(url).status_code == 405
    assert WaitlistEntry.objects.get(pk=entry.pk).status == "waiting"


def test_the_cancel_address_opened_by_get_leads_to_the_reservations_page(client):
    reservation = ReservationFactory()
    url = reverse("reservations:cancel", kwargs={"token": reservation.token})

    answer = client.get(url)

    assert answer.status_code == 303
    assert answer["Location"] == reservation.get_absolute_url()
    assert Reservation.objects.get(pk=reservation.pk).status == "pending"


def test_an_unknown_token_is_a_404_saying_so(client):
    page = client.get(reverse("reservations:waitlist", kwargs={"token": "no-such-token"}))

    assert page.status_code == 404
    assert ENTRY_NOT_FOUND_MESSAGE in text(page)
    fake = WaitlistEntry(token="no-such-token")
    for action in ("pick", "pass", "withdraw"):
        assert post(client, fake, action, puppy="amber").status_code == 404


def test_a_family_paying_is_sent_back_to_its_checkout_from_its_page(client, litter):
    entry = joined(litter, 1)
    reservation_set_checkout(
        reservation=entry.reservation, reference="cs_test_1", url="https://pay.example/cs_test_1"
    )

    page = client.get(entry.get_absolute_url())

    assert page.status_code == 200
    html = text(page)
    assert "Almost on the list" in html
    assert '<a class="button button--primary" href="https://pay.example/cs_test_1">' in html
    assert "300.00 EUR" in html
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta http-equiv="refresh" content="30">' in html  # inside <noscript>


def test_a_waiting_family_sees_its_position_and_the_families_ahead(client, litter):
    paid(joined(litter, 1))
    paid(joined(litter, 2))
    third = paid(joined(litter, 3, sex="female"))

    html = text(client.get(third.get_absolute_url()))

    assert "You are number 3 on the list." in html
    assert "2 families ahead of you." in html
    assert "Female" in html  # their wish
    assert "Non-refundable: if you leave the list" in html
    assert "is not refunded, as your terms say" in html
    assert "Withdraw from the list" in html


def test_in_its_turn_a_family_sees_its_choices_with_the_balance_and_a_countdown(client, litter):
    puppies(litter)
    first = paid(joined(litter, 1))
    picking_open(litter_id=litter.pk, actor="test")

    page = client.get(first.get_absolute_url())

    html = text(page)
    assert "It is your turn to choose!" in html
    assert "Amber" in html
    assert "Bruno" in html
    assert "1,700.00 EUR" in html  # Amber's balance at pickup: 2,000 - 300
    assert "1,500.00 EUR" in html  # Bruno's
    turn_ends = first.turns.get().ends_at
    # The end of the turn as the server says it (with its zone), and for the script to count.
    local = timezone.localtime(turn_ends)
    assert f'<time datetime="{local.isoformat()}">{local:%-d %B %Y, %H:%M} {local.tzname()}' in html
    assert f'data-countdown="{local.isoformat()}"' in html
    assert 'name="puppy" value="amber"' in html
    assert reverse("reservations:waitlist_pass", kwargs={"token": first.token}) in html
    assert "Withdraw from the list" not in html  # not while choosing
    assert 'http-equiv="refresh"' not in html  # the page never reloads under their hands


def test_choosing_a_puppy_confirms_it_and_opens_the_next_familys_turn(client, litter):
    amber, _bruno = puppies(litter)
    first = paid(joined(litter, 1))
    second = paid(joined(litter, 2))
    picking_open(litter_id=litter.pk, actor="test")

    answer = post(client, first, "pick", puppy="amber")

    reservation = Reservation.objects.get(pk=first.reservation_id)
    assert answer.status_code == 303
    assert answer["Location"] == reverse("reservations:status", kwargs={"token": reservation.token})
    assert reservation.puppy == amber
    assert reservation.status == Reservation.Status.CONFIRMED
    status_page = text(client.get(answer["Location"]))
    assert "Reserved for you!" in status_page
    assert "1,700.00 EUR" in status_page  # the balance due at pickup
    assert "You joined the waiting list" in status_page
    assert "You chose Amber in your turn on the waiting list" in status_page
    assert "Amber held for you" not in status_page
    # The family's own page now leads to the reservation.
    assert client.get(first.get_absolute_url())["Location"] == answer["Location"]
    assert "It is your turn to choose!" in text(client.get(second.get_absolute_url()))
    # *Choose* pressed twice: the second lands on the same reservation, nothing else changes.
    again = post(client, first, "pick", puppy="bruno")
    assert again.status_code == 303
    assert again["Location"] == answer["Location"]
    assert Puppy.objects.get(slug="bruno").status == Puppy.Status.AVAILABLE


def test_a_family_not_in_its_turn_is_told_so_and_nothing_changes(client, litter):
    puppies(litter)
    paid(joined(litter, 1))
    second = paid(joined(litter, 2))
    picking_open(litter_id=litter.pk, actor="test")

    page = post(client, second, "pick", puppy="amber")

    assert page.status_code == 409
    html = text(page)
    assert 'data-error-code="NOT_YOUR_TURN"' in html
    assert NOT_YOUR_TURN_MESSAGE in html
    assert Puppy.objects.get(slug="amber").status == Puppy.Status.AVAILABLE
    assert post(client, second, "pass").status_code == 409


def test_a_puppy_not_offered_is_refused_plainly(client, litter):
    puppies(litter)
    first = paid(joined(litter, 1, sex="female"))
    picking_open(litter_id=litter.pk, actor="test")

    page = post(client, first, "pick", puppy="bruno")  # a male: not what they asked for

    assert page.status_code == 409
    assert 'data-error-code="PUPPY_NOT_AVAILABLE"' in text(page)
    assert "Amber" in text(page)  # still their turn, still their choice
    assert WaitlistEntry.objects.get(pk=first.pk).status == E.CHOOSING


def test_passing_opens_the_next_familys_turn_and_says_so(client, litter):
    puppies(litter)
    first = paid(joined(litter, 1))
    second = paid(joined(litter, 2))
    picking_open(litter_id=litter.pk, actor="test")

    answer = post(client, first, "pass")

    assert answer.status_code == 303
    assert answer["Location"] == first.get_absolute_url()
    assert "You passed your turn" in text(client.get(answer["Location"]))
    assert "It is your turn to choose!" in text(client.get(second.get_absolute_url()))


def test_a_turn_skipped_or_run_out_is_not_told_as_passed_and_a_closed_picking_says_so(
    client, litter
):
    """Tried: a family the breeder skipped read "You passed your turn"; after picking closed
    mid-turn the family choosing read "You are on the list … No family is ahead of you",
    though no turn would ever come."""
    puppies(litter)
    first, second, third = (paid(joined(litter, n)) for n in (1, 2, 3))
    picking_open(litter_id=litter.pk, actor="test")
    waitlist_skip(litter_id=litter.pk, actor="staff:breeder")

    assert "Your turn was skipped" in text(client.get(first.get_absolute_url()))

    picking_close(litter_id=litter.pk, actor="staff:breeder")

    for entry in (second, third):
        html = text(client.get(entry.get_absolute_url()))
        assert "Picking has closed" in html
        assert "No family is ahead of you" not in html
    assert "Picking has closed" in text(client.get(first.get_absolute_url()))


def test_withdrawing_under_non_refundable_terms_keeps_the_deposit(client, litter):
    entry = paid(joined(litter, 1))

    answer = post(client, entry, "withdraw")

    assert answer.status_code == 303
    html = text(client.get(answer["Location"]))
    assert "You left the list" in html
    assert "the deposit was not refunded" in html
    assert WaitlistEntry.objects.get(pk=entry.pk).status == E.WITHDRAWN


POSITION_ROW = "<dt>Position</dt>"


def test_a_family_that_left_the_list_is_not_shown_a_place_on_it(client, litter):
    """Tried: after *Withdraw from the list* the page still read "POSITION 1"."""
    entry = paid(joined(litter, 1))
    second = paid(joined(litter, 2))
    assert f"{POSITION_ROW}<dd>1</dd>" in text(client.get(entry.get_absolute_url()))

    post(client, entry, "withdraw")

    html = text(client.get(entry.get_absolute_url()))
    assert "You left the list" in html
    assert POSITION_ROW not in html
    assert "You are number" not in html
    assert f"{POSITION_ROW}<dd>2</dd>" in text(client.get(second.get_absolute_url()))


def test_a_family_whose_deposit_was_refunded_is_not_shown_a_place_on_the_list(client, litter):
    entry = paid(joined(litter, 1))
    reservation_refund(reservation_id=entry.reservation_id, actor="staff:breeder")

    html = text(client.get(entry.get_absolute_url()))

    assert POSITION_ROW not in html


def test_withdrawing_before_the_cut_off_refunds_the_deposit_once(client, litter):
    Litter.objects.filter(pk=litter.pk).update(
        deposit_terms=Litter.DepositTerms.REFUNDABLE,
        refund_days=14,
        go_home_on=date.today() + timedelta(days=30),
    )
    entry = paid(joined(litter, 1))
    assert "your deposit of 300.00 EUR is refunded in full" in text(
        client.get(entry.get_absolute_url())
    )

    answer = post(client, entry, "withdraw")

    assert answer.status_code == 303
    html = text(client.get(answer["Location"]))
    assert "You left the list" in html
    assert "Your deposit is refunded in full." in html
    refund = Refund.objects.get(reservation_id=entry.reservation_id)
    assert refund.amount == Decimal("300.00")
    again = post(client, entry, "withdraw")
    assert again.status_code == 409
    assert NOT_WITHDRAWABLE_MESSAGE in text(again)
    assert Refund.objects.count() == 1


def test_a_family_refunded_part_of_its_deposit_is_not_told_it_was_refunded_in_full(client, litter):
    """Tried: the breeder refunded 240 of a 300 deposit (60 kept); the family's page said
    "Your deposit is refunded in full"."""
    entry = paid(joined(litter, 1))
    reservation_refund(
        reservation_id=entry.reservation_id, actor="staff:breeder", amount_kept=Decimal(60)
    )

    html = text(client.get(entry.get_absolute_url()))

    assert "Part of your deposit was refunded" in html
    assert "refunded in full" not in html
    assert "{" not in html[html.index('class="status__hint"') :][:400]


def test_a_late_payment_sent_back_is_on_the_familys_page(client, litter):
    """Tried: a payment made after the family's place had lapsed was refunded (and emailed),
    but their page said "nothing was charged"."""
    entry = joined(litter, 1)
    reservation_release(
        reservation_id=entry.reservation_id,
        status=Reservation.Status.EXPIRED,
        actor="test",
        reason=Reservation.Reason.HOLD_EXPIRED,
    )
    Refund.objects.create(
        reservation_id=entry.reservation_id,
        provider="stripe",
        external_payment_id="pi_late",
        amount=Decimal("300.00"),
        currency="EUR",
        reason=Refund.Reason.LATE_PAYMENT,
        idempotency_key="test-late",
    )

    html = text(client.get(entry.get_absolute_url()))

    assert "nothing was charged" not in html
    assert "A payment of 300.00 EUR reached us after this reservation had ended." in html
    assert "It is being refunded to you in full" in html


def test_withdrawing_after_the_cut_off_says_beforehand_the_deposit_is_kept(client, litter):
    Litter.objects.filter(pk=litter.pk).update(
        deposit_terms=Litter.DepositTerms.REFUNDABLE,
        refund_days=14,
        go_home_on=date.today() + timedelta(days=3),
    )
    entry = paid(joined(litter, 1))
    assert "is not refunded, as your terms say" in text(client.get(entry.get_absolute_url()))

    post(client, entry, "withdraw")

    assert "the deposit was not refunded" in text(client.get(entry.get_absolute_url()))
    assert not Refund.objects.exists()


def go_home_set(admin_client, litter: Litter, day: date) -> None:
    """The breeder sets the litter's go-home day on its back-office page."""
    url = reverse("admin:catalogue_litter_change", args=[litter.pk])
    form = litter_form(admin_client, litter, go_home_on=day.isoformat())
    saved = admin_client.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert Litter.objects.get(pk=litter.pk).go_home_on == day


@pytest.mark.parametrize("known_when_paid", [True, False])
def test_the_refund_cut_off_a_family_was_told_stays_when_go_home_moves_earlier(
    client, admin_client, litter, known_when_paid
):
    """Tried: a family told "refunded in full until 28 December" saw it turn into a date
    already past when the breeder moved the go-home day earlier — and lost the refund it
    had been promised."""
    Litter.objects.filter(pk=litter.pk).update(
        deposit_terms=Litter.DepositTerms.REFUNDABLE,
        refund_days=14,
        go_home_on=date.today() + timedelta(days=30) if known_when_paid else None,
    )
    entry = paid(joined(litter, 1))
    if not known_when_paid:
        go_home_set(admin_client, litter, date.today() + timedelta(days=30))
    told = date.today() + timedelta(days=16)
    assert "your deposit of 300.00 EUR is refunded in full" in text(
        client.get(entry.get_absolute_url())
    )

    go_home_set(admin_client, litter, date.today() + timedelta(days=10))

    entry.refresh_from_db()
    assert entry.refund_until == told
    html = text(client.get(entry.get_absolute_url()))
    assert "your deposit of 300.00 EUR is refunded in full" in html
    post(client, entry, "withdraw")
    assert Refund.objects.get(reservation_id=entry.reservation_id).amount == Decimal("300.00")


def test_withdrawing_during_ones_turn_is_refused_plainly(client, litter):
    puppies(litter)
    first = paid(joined(litter, 1))
    picking_open(litter_id=litter.pk, actor="test")

    page = post(client, first, "withdraw")

    assert page.status_code == 409
    assert NOT_WITHDRAWABLE_MESSAGE in text(page)
    assert WaitlistEntry.objects.get(pk=first.pk).status == E.CHOOSING


def test_the_status_address_of_a_list_deposit_leads_to_the_familys_page(client, litter):
    entry = paid(joined(litter, 1))

    answer = client.get(reverse("reservations:status", kwargs={"token": entry.reservation.token}))

    assert answer.status_code == 302
    assert answer["Location"] == entry.get_absolute_url()


def test_leaving_the_payment_page_of_a_list_deposit_lands_on_the_familys_page(client, litter):
    entry = joined(litter, 1)
    url = reverse("payments:cancel", kwargs={"provider": "stripe"})

    answer = client.get(url, {"reservation": entry.reservation.token})

    assert answer.status_code == 303
    assert answer["Location"] == entry.get_absolute_url()
    assert Reservation.objects.get(pk=entry.reservation_id).status == Reservation.Status.CANCELLED
    html = text(client.get(entry.get_absolute_url()))
    assert "Payment not completed" in html
    assert "You are number" not in html


def test_a_puppy_a_shop_buyer_is_paying_for_shows_as_held_until_when_then_as_a_choice(
    client, litter
):
    """Tried: the family's turn came while a shop buyer was paying for Amber, the only girl;
    it was skipped. Now it is its turn: Amber shows as held until the hold's end, without
    *Choose*, and becomes its choice when the hold runs out unpaid."""
    puppies(litter)
    first = paid(joined(litter, 1, sex="female"))
    shop = reservation_hold(
        puppy_slug="amber",
        buyer=Buyer(name="Shop Buyer", email="shop@example.com", phone="+33 600000000"),
        provider="stripe",
    )
    picking_open(litter_id=litter.pk, actor="test")

    html = text(client.get(first.get_absolute_url()))

    assert "It is your turn to choose!" in html
    local = timezone.localtime(shop.expires_at)
    until = f'<time datetime="{local.isoformat()}">{local:%-d %B %Y, %H:%M} {local.tzname()}</time>'
    assert (
        f"A buyer in the shop is paying for Amber until {until}. If they have not paid by "
        "then, you can choose Amber here." in " ".join(html.split())
    )
    assert "1,700.00 EUR" in html  # its balance at pickup, as for a choice
    assert 'name="puppy" value="amber"' not in html
    assert "No puppy matching your wishes" not in html
    assert 'data-refresh-seconds="30"' in html  # it looks again by itself meanwhile

    refused = post(client, first, "pick", puppy="amber")  # a page open from before, say

    assert refused.status_code == 409
    assert 'data-error-code="PUPPY_NOT_AVAILABLE"' in text(refused)
    assert PUPPY_HELD_MESSAGE in text(refused)
    assert Puppy.objects.get(slug="amber").status == Puppy.Status.HELD

    Reservation.objects.filter(pk=shop.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    reservations_expire_due()
    html = text(client.get(first.get_absolute_url()))

    assert 'name="puppy" value="amber"' in html
    assert "A buyer in the shop is paying for" not in html
    assert "data-refresh-seconds" not in html  # a choice to make: never reloaded under its hands
    assert post(client, first, "pick", puppy="amber").status_code == 303
    assert Reservation.objects.get(pk=first.reservation_id).puppy.slug == "amber"
