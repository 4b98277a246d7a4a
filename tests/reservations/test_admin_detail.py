"""One reservation on one back-office page: the money with its currency, the timeline from the
audit trail, refunds, emails, provider events, the link to the payment, the internal notes
(the one field saved there) and the buttons its status allows; the list and its CSV export."""

import csv
import io
import re
from decimal import Decimal
from html import unescape
from typing import cast

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kennel.catalogue.models import Litter
from kennel.core.models import AuditLog
from kennel.payments.models import Refund, WebhookEvent
from kennel.reservations.admin.detail import actor_words
from kennel.reservations.models import Reservation, WaitlistEntry
from tests.core.test_security_headers import INLINE
from tests.factories import LitterFactory, PuppyFactory, ReservationFactory
from tests.reservations.test_admin_actions import action, confirm, drain, paid

CHANGELIST = "admin:reservations_reservation_changelist"


def detail(client, reservation) -> str:
    page = client.get(reverse("admin:reservations_reservation_change", args=[reservation.pk]))
    assert page.status_code == 200
    return page.content.decode()


def toned_buttons(html: str) -> list[tuple[str, str]]:
    """The action buttons in their order, each with its look (primary, plain, danger)."""
    found = re.findall(r'class="kennel-action kennel-action--(\w+)">([^<]+)<', html)
    return [(unescape(label), tone) for tone, label in found]


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_money_timeline_refunds_emails_and_events(
    sandbox, live_server, admin_client, settings
):
    settings.OWNER_EMAIL = "owner@kennel.example"
    reservation = paid(sandbox, live_server, "stripe")
    _, data = action(admin_client, "refund_deposit", reservation)
    keep = {"refund_form": "1", "shown_keep": "50", "amount_to_keep": "50"}
    confirm(admin_client, {**data, **keep, "puppy_available": "on"})
    drain(sandbox)

    html = detail(admin_client, reservation)

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Deposit paid 400.00 EUR" in text
    assert "Refunded 350.00 EUR" in text
    assert "Deposit held 50.00 EUR" in text
    assert "Balance due at pickup 0.00 EUR" in text
    for line in (
        "Puppy held for the buyer the buyer",
        "Deposit confirmed Stripe (webhook)",
        "Refund requested (kept 50.00) you (staff: admin)",
        "Refunded — Cancelled by the breeder; part kept you (staff: admin)",
    ):
        assert line in text, line
    # The raw actor stays on the page, as the words' tooltip.
    assert re.search(r'<span title="stripe:evt_\w+">Stripe \(webhook\)</span>', html)
    assert "stripe:evt_" not in text
    assert f"350.00 EUR Succeeded {Refund.Reason.OWNER.label}" in text
    assert "Refund done at the provider the system (background worker)" in text
    assert "Buyer: deposit confirmed buyer1@example.com Done" in text
    assert "Buyer: refund issued buyer1@example.com Done" in text
    assert "Owner: refund issued owner@kennel.example Done" in text
    completed = WebhookEvent.objects.get(type="checkout.session.completed")
    assert reverse("admin:payments_webhookevent_change", args=[completed.pk]) in html
    assert "checkout.session.completed" in text
    assert "charge.refunded" in text
    assert "Receipt in the payment sandbox" in html
    assert f"{settings.STRIPE_API_BASE}/receipts/payment/ch_" in html
    assert toned_buttons(html) == [("Erase buyer's data", "danger")]
    assert not INLINE.findall(html)


@pytest.mark.django_db
def test_a_confirmed_reservation_shows_the_balance_due_and_its_actions(admin_client):
    reservation = ReservationFactory(
        status=Reservation.Status.CONFIRMED, external_payment_id="pi_1"
    )

    html = detail(admin_client, reservation)

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Puppy price 2,000.00 EUR" in text
    assert "Deposit paid 400.00 EUR" in text
    assert "Balance due at pickup 1,600.00 EUR" in text
    # The usual next step first, the harmless one plain, the money set apart in red, last.
    assert toned_buttons(html) == [
        ("Picked up", "primary"),
        ("Resend confirmation", "plain"),
        ("Cancel and refund", "danger"),
    ]
    # Named after the puppy and the buyer, not "Reservations > Reservations".
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S)
    assert crumbs
    crumb_text = unescape(re.sub(r"<[^>]+>", "", crumbs.group(1))).replace("\u203a", ">")
    assert re.sub(r"\s+", " ", crumb_text).strip() == (
        f"Home > Reservations > {reservation.puppy.name} for Jane Doe"
    )
    assert f"<h1>{reservation.puppy.name} for Jane Doe</h1>" in html
    puppy_admin = reverse("admin:catalogue_puppy_change", args=[reservation.puppy.pk])
    assert puppy_admin in html
    assert f"/puppies/{reservation.puppy.slug}/" in html


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("stripe:evt_3u8pQ2", "Stripe (webhook)"),
        ("paypal:WH-7Y123", "PayPal (webhook)"),
        ("stripe:delivery", "Stripe (webhook)"),
        ("buyer", "the buyer"),
        ("buyer:return:paypal", "the buyer (back from PayPal)"),
        ("system:hold-expiry", "the system (hold expiry)"),
        ("system:expire_holds", "the system (hold expiry)"),
        ("system:worker", "the system (background worker)"),
        ("system:reconcile_payments", "the system (reconciliation)"),
        ("system:something_new", "the system (something new)"),
        ("staff:anna", "you (staff: anna)"),
        ("staff:bob", "staff: bob"),
        ("test", "test"),
    ],
)
def test_the_timeline_says_who_in_words(actor, words):
    assert actor_words(actor, viewer="anna") == words


@pytest.mark.django_db
def test_a_hold_the_buyer_cancelled_on_the_shop_says_so_not_that_they_left_the_checkout(
    client, admin_client
):
    """Tried: a buyer cancelled on the shop's own status page, and the timeline said "The
    buyer left the checkout" (the reason is the same whichever page they cancelled from)."""
    reservation = ReservationFactory()
    cancelled = client.post(reverse("reservations:cancel", kwargs={"token": reservation.token}))
    assert cancelled.status_code == 303

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", detail(admin_client, reservation)))

    assert "Cancelled — The buyer cancelled before paying the buyer" in text
    assert "left the checkout" not in text


@pytest.mark.django_db
def test_a_pending_hold_offers_only_its_release(admin_client):
    reservation = ReservationFactory()

    assert toned_buttons(detail(admin_client, reservation)) == [("Release the hold", "danger")]


@pytest.mark.django_db
def test_notes_are_the_one_thing_saved_from_the_page(admin_client):
    reservation = ReservationFactory(
        status=Reservation.Status.CONFIRMED, external_payment_id="pi_2"
    )
    html = detail(admin_client, reservation)
    inputs = set(re.findall(r'<(?:input|textarea|select)[^>]*name="([^"]+)"', html))
    assert inputs == {"csrfmiddlewaretoken", "notes"}

    url = reverse("admin:reservations_reservation_notes", args=[reservation.pk])
    answer = admin_client.post(
        url, {"notes": "Visit on Saturday.\nWants the blue collar.", "status": "completed"}
    )

    assert answer.status_code == 302
    reservation.refresh_from_db()
    assert reservation.notes == "Visit on Saturday.\nWants the blue collar."
    assert reservation.status == "confirmed"
    [line] = AuditLog.objects.filter(action="reservations.reservation.notes_changed")
    assert (line.actor, line.object_id) == ("staff:admin", str(reservation.pk))
    assert not LogEntry.objects.exists()
    html = detail(admin_client, reservation)
    assert "Notes saved." in html
    assert "Wants the blue collar." in html
    assert "Internal notes changed" in html
    # Saving the same notes again changes nothing and writes no second audit line.
    admin_client.post(url, {"notes": "Visit on Saturday.\r\nWants the blue collar."})
    assert AuditLog.objects.filter(action="reservations.reservation.notes_changed").count() == 1
    change = reverse("admin:reservations_reservation_change", args=[reservation.pk])
    assert admin_client.post(change, {"notes": "x", "status": "refunded"}).status_code == 403


@pytest.mark.django_db
def test_notes_at_their_limit_count_each_line_break_once(admin_client):
    """Tried: 10,000 characters of notes over many lines were refused: the browser sends
    CRLF and each line break counted 2."""
    reservation = ReservationFactory()
    notes = "\n".join(["x" * 99] * 100) + "!"
    assert len(notes) == 10_000
    url = reverse("admin:reservations_reservation_notes", args=[reservation.pk])

    admin_client.post(url, {"notes": notes.replace("\n", "\r\n")})

    reservation.refresh_from_db()
    assert reservation.notes == notes


@pytest.mark.django_db
def test_the_list_shows_buyer_contact_and_deposit_and_searches_and_filters(admin_client):
    ReservationFactory(buyer_name="Ann Smith", buyer_email="ann@example.com", buyer_phone="+44 1")
    ReservationFactory(buyer_name="Bob Jones", buyer_email="bob@example.com")
    url = reverse(CHANGELIST)

    html = admin_client.get(url).content.decode()
    assert "ann@example.com" in html
    assert "+44 1" in html
    assert "400.00 EUR" in html
    found = admin_client.get(url, {"q": "ann@example"}).content.decode()
    assert "Ann Smith" in found
    assert "Bob Jones" not in found
    bob = Reservation.objects.get(buyer_name="Bob Jones")
    by_reference = admin_client.get(url, {"q": bob.reference.lower()}).content.decode()
    assert "Bob Jones" in by_reference  # the reference a buyer reads out on the phone
    assert "Ann Smith" not in by_reference
    assert "Bob Jones" in admin_client.get(url, {"currency": "EUR"}).content.decode()
    assert admin_client.get(url, {"status__exact": "confirmed"}).status_code == 200
    assert not INLINE.findall(html)


@pytest.mark.django_db
def test_csv_export_has_the_rows_and_no_secrets(admin_client):
    first = ReservationFactory(
        status=Reservation.Status.CONFIRMED, external_payment_id="pi_3", buyer_name="=HYPERLINK()"
    )
    second = ReservationFactory(buyer_email="second@example.com")

    answer = admin_client.post(
        reverse(CHANGELIST),
        {"action": "export_csv", "_selected_action": [str(first.pk), str(second.pk)]},
    )

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == [
        "created",
        "status",
        "puppy",
        "buyer name",
        "buyer email",
        "buyer phone",
        "provider",
        "deposit",
        "currency",
        "refunded",
        "confirmed at",
    ]
    by_email = {row[4]: row for row in rows[1:]}
    assert by_email["jane.doe@example.com"][1:4] == ["confirmed", first.puppy.name, "'=HYPERLINK()"]
    assert by_email["jane.doe@example.com"][7:10] == ["400.00", "EUR", "0.00"]
    assert by_email["second@example.com"][1] == "pending"
    assert first.token not in answer.content.decode()


def _export(admin_client, reservations: list[Reservation]) -> tuple[dict[str, list[str]], int]:
    """The CSV's rows by buyer email, and the queries the export took."""
    with CaptureQueriesContext(connection) as queries:
        answer = admin_client.post(
            reverse(CHANGELIST),
            {"action": "export_csv", "_selected_action": [str(r.pk) for r in reservations]},
        )
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.content.decode())))[1:]
    return {row[4]: row for row in rows}, len(queries)


def _refund(reservation: Reservation, amount: str, status: str, *, payment: str = "") -> None:
    Refund.objects.create(
        reservation=reservation,
        provider="stripe",
        external_payment_id=payment or reservation.external_payment_id or "",
        amount=Decimal(amount),
        currency="EUR",
        reason=Refund.Reason.WITHDRAWN,
        status=status,
        idempotency_key=f"kennel-refund-export-{reservation.pk}-{amount}-{status}",
    )


@pytest.mark.django_db
def test_csv_export_sums_each_reservations_refunds_with_the_same_queries_for_any_count(
    admin_client,
):
    S = Reservation.Status
    partly = ReservationFactory(
        status=S.CONFIRMED, external_payment_id="pi_partly", buyer_email="partly@example.com"
    )
    _refund(partly, "100.00", Refund.Status.SUCCEEDED)
    _refund(partly, "50.00", Refund.Status.SUCCEEDED)
    _refund(partly, "25.00", Refund.Status.PENDING)  # sent, not yet confirmed: not refunded
    _refund(partly, "400.00", Refund.Status.SUCCEEDED, payment="pi_other")  # another payment
    legacy = ReservationFactory(
        status=S.REFUNDED, external_payment_id="pi_legacy", buyer_email="legacy@example.com"
    )  # refunded at the provider before refunds were kept one by one
    few = [partly, legacy, ReservationFactory(buyer_email="none@example.com")]
    many = few + [ReservationFactory(buyer_email=f"b{n}@example.com") for n in range(40)]

    rows, queries_for_few = _export(admin_client, few)
    _, queries_for_many = _export(admin_client, many)

    assert rows["partly@example.com"][9] == "150.00"
    assert rows["legacy@example.com"][9] == "400.00"
    assert rows["none@example.com"][9] == "0.00"
    assert queries_for_many == queries_for_few


@pytest.mark.django_db
def test_live_mode_links_the_payment_in_the_providers_dashboard(admin_client, settings):
    settings.PAYMENTS_MODE = "live"
    settings.STRIPE_SECRET_KEY = "sk_test_kennel"
    card = ReservationFactory(status=Reservation.Status.CONFIRMED, external_payment_id="pi_live1")
    paypal = ReservationFactory(
        status=Reservation.Status.CONFIRMED, provider="paypal", external_payment_id="CAP77"
    )

    assert "/test/payments/pi_live1" in detail(admin_client, card)
    assert "/activity/payment/CAP77" in detail(admin_client, paypal)


@pytest.mark.django_db
def test_sandbox_mode_never_links_a_provider_dashboard(admin_client, settings):
    settings.PAYMENTS_MODE = "sandbox"
    reservation = ReservationFactory(
        status=Reservation.Status.CONFIRMED, provider="paypal", external_payment_id="CAP78"
    )

    html = detail(admin_client, reservation)

    assert "CAP78" in html
    assert "/activity/payment/" not in html


@pytest.mark.django_db
def test_the_confirmation_pages_have_no_inline_script_or_style(admin_client):
    confirmed = ReservationFactory(status=Reservation.Status.CONFIRMED, external_payment_id="pi_4")
    pending = ReservationFactory()
    for name, reservation in [
        ("refund_deposit", confirmed),
        ("mark_picked_up", confirmed),
        ("resend_confirmation", confirmed),
        ("release_hold", pending),
        ("erase_buyer", confirmed),
    ]:
        url = reverse(f"admin:reservations_reservation_{name}", args=[reservation.pk])
        page = admin_client.get(url)
        assert page.status_code == 200, name
        html = page.content.decode()
        assert not INLINE.findall(html), name
        assert 'name="post" value="yes"' in html
        assert 'name="request_token"' in html
    refund = admin_client.get(
        reverse("admin:reservations_reservation_refund_deposit", args=[confirmed.pk])
    ).content.decode()
    assert 'name="amount_to_keep"' in refund
    assert "EUR" in refund
    assert re.search(r'name="puppy_available"[^>]*checked', refund)
    assert Decimal(confirmed.deposit_amount) == Decimal("400.00")


def confirm_button(html: str) -> str:
    """The class of the confirmation page's confirm button."""
    found = re.search(r'<button type="submit" name="post" value="yes" class="([^"]+)"', html)
    assert found, "no confirm button"
    return found.group(1)


@pytest.mark.django_db
def test_the_refund_confirmation_speaks_of_one_reservation_and_its_red_button_comes_first(
    admin_client,
):
    reservation = ReservationFactory(
        status=Reservation.Status.CONFIRMED, external_payment_id="pi_5"
    )
    url = reverse("admin:reservations_reservation_refund_deposit", args=[reservation.pk])

    html = admin_client.get(url).content.decode()

    assert "The reservation is cancelled and its deposit refunded" in html
    assert "Each reservation" not in html
    assert "This reservation</h2>" in html
    assert "1 selected" not in html
    # A checkbox's label has no colon; the currency stays beside the amount.
    assert (
        '<label for="id_puppy_available" class="vCheckboxLabel">'
        "Make the puppy available again</label>" in html
    )
    assert re.search(
        r'<span class="kennel-confirm__input"><input [^>]*name="amount_to_keep"[^>]*> '
        r'<span class="kennel-confirm__suffix">EUR</span></span>',
        html,
    )
    # Confirming sends money back: the red primary button; going back is a plain link.
    assert "kennel-button--danger" in confirm_button(html).split()
    assert (
        '<a href="{}" class="kennel-confirm__back">No, take me back</a>'.format(
            reverse("admin:reservations_reservation_change", args=[reservation.pk])
        )
        in html
    )
    assert html.index('name="post" value="yes"') < html.index("Show the amounts again")
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S)
    assert crumbs
    assert ">Reservations</a>" in crumbs.group(1)
    assert crumbs.group(1).count("Reservations") == 1


@pytest.mark.django_db
def test_a_confirmation_for_several_reservations_speaks_in_the_plural(admin_client):
    first, second = (
        ReservationFactory(status=Reservation.Status.CONFIRMED, external_payment_id=f"pi_{n}")
        for n in (6, 7)
    )

    page = admin_client.post(
        reverse(CHANGELIST),
        {"action": "refund_deposit", "_selected_action": [str(first.pk), str(second.pk)]},
    )
    html = page.content.decode()

    assert "Each reservation is cancelled and its deposit refunded" in html
    assert "These 2 reservations</h2>" in html
    assert "The puppies are available again on the shop (a puppy already picked up" in html
    assert "Make the puppies available again</label>" in html


@pytest.mark.django_db
def test_a_harmless_action_is_confirmed_with_the_plain_primary_button(admin_client):
    reservation = ReservationFactory(
        status=Reservation.Status.CONFIRMED, external_payment_id="pi_8"
    )
    url = reverse("admin:reservations_reservation_resend_confirmation", args=[reservation.pk])

    html = admin_client.get(url).content.decode()

    assert confirm_button(html).split() == ["button", "default", "kennel-confirm__yes"]
    assert "The buyer&#x27;s deposit confirmation email is sent again, once." in html


def _list_deposits_refunded(count: int) -> None:
    """`count` waiting-list deposits (reservations without a puppy), each refunded."""
    litter = cast(Litter, LitterFactory(name="Juniper and Hunter"))
    first = Reservation.objects.count()
    for n in range(first, first + count):
        deposit = Reservation.objects.create(
            puppy=None,
            buyer_name=f"Family {n}",
            buyer_email=f"family{n}@example.com",
            buyer_phone="+33 6 12 34 56 78",
            deposit_amount=Decimal("300.00"),
            currency="EUR",
            provider=Reservation.Provider.STRIPE,
            status=Reservation.Status.REFUNDED,
            external_payment_id=f"pi_list_{n}",
            expires_at=timezone.now(),
        )
        WaitlistEntry.objects.create(litter=litter, reservation=deposit, terms="refundable")
        Refund.objects.create(
            reservation=deposit,
            provider="stripe",
            external_payment_id=f"pi_list_{n}",
            amount=Decimal("300.00"),
            currency="EUR",
            reason=Refund.Reason.WITHDRAWN,
            status=Refund.Status.SUCCEEDED,
            idempotency_key=f"kennel-refund-list-{n}",
        )


@pytest.mark.django_db
def test_lists_of_waiting_list_deposits_read_their_litter_without_a_query_a_row(admin_client):
    """The refund list and the reservation list name a list deposit's litter from rows they
    joined: six rows cost no more queries than two."""
    pages = [reverse("admin:payments_refund_changelist"), reverse(CHANGELIST)]

    def queries() -> list[int]:
        counts = []
        for url in pages:
            with CaptureQueriesContext(connection) as seen:
                html = admin_client.get(url).content.decode()
            assert "Waiting list: Juniper and Hunter" in unescape(html)
            counts.append(len(seen.captured_queries))
        return counts

    _list_deposits_refunded(2)
    two = queries()
    _list_deposits_refunded(4)
    assert queries() == two


@pytest.mark.django_db
def test_csv_export_writes_each_amount_with_its_currencys_places(admin_client):
    """Tried: a JPY deposit of 70000 came out of the export as "70000.00" (yen have no minor
    unit), while its pages show "70,000 JPY"."""
    yen = ReservationFactory(
        puppy=PuppyFactory(price=Decimal("350000"), currency="JPY"),
        status=Reservation.Status.REFUNDED,
        external_payment_id="pi_yen",
        buyer_email="yen@example.com",
    )
    euro = ReservationFactory(buyer_email="euro@example.com")

    rows, _ = _export(admin_client, [yen, euro])

    assert rows["yen@example.com"][7:10] == ["70000", "JPY", "70000"]
    assert rows["euro@example.com"][7:10] == ["400.00", "EUR", "0.00"]
