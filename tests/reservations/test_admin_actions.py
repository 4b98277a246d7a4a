"""The breeder's actions in the back office, end to end for Stripe and PayPal: a staff user
posts the action, reads its confirmation page, confirms; the service does it through the
sandbox; the worker sends money and emails; the shop's public page shows the outcome."""

import re
from decimal import Decimal
from typing import Any, cast

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kennel.catalogue.models import Puppy
from kennel.core.models import AuditLog
from kennel.payments.models import Refund
from kennel.payments.owner import reservation_refund
from kennel.payments.stripe import client as stripe_client
from kennel.reservations.models import Reservation, WaitlistEntry
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.payments import paypal_helpers, stripe_helpers
from tests.payments.flow import process_webhooks, settled
from tests.reservations.waitlist_helpers import joined, on_list, open_litter

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = "owner@kennel.example"
CHANGELIST = "admin:reservations_reservation_changelist"
PROVIDERS = ["stripe", "paypal"]


@pytest.fixture(autouse=True)
def owner(settings: Any) -> None:
    settings.OWNER_EMAIL = OWNER


def reserve(live_server: Any, provider: str, n: int = 1) -> dict[str, Any]:
    puppy = cast(Puppy, PuppyFactory())
    created = stripe_helpers.reserve(live_server.url, puppy.slug, provider=provider, n=n)
    assert created.status_code == 201, created.text
    return dict(created.json())


def paid(sandbox: Any, live_server: Any, provider: str, n: int = 1) -> Reservation:
    """A confirmed reservation: reserved through the API, paid on the sandbox's page."""
    body = reserve(live_server, provider, n)
    if provider == "stripe":
        stripe_helpers.choose(body["checkout_url"], "pay")
    else:
        paypal_helpers.come_back(paypal_helpers.approve(body["checkout_url"], "approve"))
    reservation = settled(sandbox, body["id"])
    assert reservation.status == "confirmed"
    return reservation


def drain(sandbox: Any) -> None:
    """What the worker does next: refunds, checkout closes and emails, then the webhooks the
    provider answers with, then the emails those owe."""
    run_worker_once()
    process_webhooks(sandbox)
    run_worker_once()


def token_of(html: str) -> str:
    found = re.search(r'name="request_token" value="([^"]+)"', html)
    assert found, "no request token on the confirmation page"
    return found.group(1)


def action(
    client: Client, name: str, reservation: Reservation, **data: Any
) -> tuple[str, dict[str, Any]]:
    """Post the action from the reservation list: its confirmation page, and the form data
    its Confirm button posts back."""
    selected = {"action": name, "_selected_action": [str(reservation.pk)]}
    page = client.post(reverse(CHANGELIST), selected)
    assert page.status_code == 200
    html = page.content.decode()
    confirm = {**selected, "post": "yes", "request_token": token_of(html), **data}
    return html, confirm


def confirm(client: Client, data: dict[str, Any]) -> str:
    answer = client.post(reverse(CHANGELIST), data, follow=True)
    assert answer.status_code == 200
    return answer.content.decode()


def public_page(slug: str) -> str:
    return Client().get(f"/puppies/{slug}/").content.decode()


def sandbox_refunds(sandbox: Any, reservation: Reservation) -> list[dict[str, Any]]:
    """The refunds the provider holds for the reservation's payment (read from the sandbox
    through the Stripe SDK; from the sandbox's PayPal state, which has no refunds list)."""
    payment = str(reservation.external_payment_id)
    if reservation.provider == "stripe":
        return stripe_client.list_refunds(payment)
    with sandbox.paypal.state.lock:
        return [
            dict(r)
            for rid, r in sandbox.paypal.state.refunds.items()
            if sandbox.paypal.state.refund_captures[rid] == payment
        ]


def emails_to(address: str) -> list[str]:
    return [str(m.subject) for m in mail.outbox if address in m.to]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refund_from_the_list_refunds_once_frees_the_puppy_and_tells_both(
    sandbox, live_server, admin_client, provider
):
    reservation = paid(sandbox, live_server, provider)
    run_worker_once()  # the confirmation emails
    mail.outbox.clear()
    deposit = f"{reservation.deposit_amount} {reservation.currency}"

    page, data = action(admin_client, "refund_deposit", reservation)

    assert f"Refunded to the buyer: {deposit}" in page
    assert reservation.buyer_email in page
    assert OWNER in page
    assert f"{reservation.puppy.name} is available again on the shop" in page
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"  # nothing yet

    form = {"refund_form": "1", "shown_keep": "0", "amount_to_keep": "0", "puppy_available": "on"}
    first = confirm(admin_client, {**data, **form})
    second = confirm(admin_client, {**data, **form})
    drain(sandbox)

    assert f"{deposit} is being refunded to {reservation.buyer_email}" in first
    assert "already refunded" in second
    reservation.refresh_from_db()
    assert reservation.status == "refunded"
    [refund] = Refund.objects.filter(reservation=reservation)
    assert (refund.status, refund.amount) == ("succeeded", reservation.deposit_amount)
    [at_provider] = sandbox_refunds(sandbox, reservation)
    if provider == "paypal":
        [capture] = paypal_helpers.captures_of(sandbox, str(reservation.provider_reference))
        assert capture["status"] == "REFUNDED"
    assert at_provider["status"].lower() in ("succeeded", "completed")
    assert 'class="reserve-form"' in public_page(reservation.puppy.slug)
    assert len(emails_to(reservation.buyer_email)) == 1
    assert len(emails_to(OWNER)) == 1
    refunded = AuditLog.objects.get(
        object_id=str(reservation.pk), action="reservations.reservation.refunded"
    )
    assert refunded.actor == "staff:admin"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refund_keeping_a_fee_from_the_detail_page_refunds_the_rest_and_takes_the_puppy_off_sale(
    sandbox, live_server, admin_client, provider
):
    reservation = paid(sandbox, live_server, provider)
    url = reverse("admin:reservations_reservation_refund_deposit", args=[reservation.pk])
    detail = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[reservation.pk])
    ).content.decode()
    assert f'href="{url}"' in detail

    page = admin_client.get(url).content.decode()
    token = token_of(page)
    form = {"refund_form": "1", "amount_to_keep": "50", "request_token": token}
    # Confirmed straight after typing 50: the page first shows the amounts for it.
    shown = admin_client.post(url, {**form, "shown_keep": "0", "post": "yes"})
    assert shown.status_code == 200
    kept = Decimal("50.00")
    rest = reservation.deposit_amount - kept
    assert f"Refunded to the buyer: {rest} EUR" in shown.content.decode()
    assert Refund.objects.count() == 0

    done = admin_client.post(url, {**form, "shown_keep": "50", "post": "yes"}, follow=True)
    drain(sandbox)

    assert f"{rest} EUR is being refunded" in done.content.decode()
    [refund] = Refund.objects.filter(reservation=reservation)
    assert (refund.amount, refund.status) == (rest, "succeeded")
    [at_provider] = sandbox_refunds(sandbox, reservation)
    amount = at_provider["amount"]
    assert (amount if provider == "stripe" else Decimal(amount["value"])) == (
        int(rest * 100) if provider == "stripe" else rest
    )
    puppy = Puppy.objects.get(pk=reservation.puppy_id)
    assert not puppy.is_published
    assert Client().get(f"/puppies/{puppy.slug}/").status_code == 404
    # Tried: the buyer's page read "Deposit partly refunded … Status: Refunded" and never
    # said the reservation was cancelled.
    status = Client().get(reservation.get_absolute_url()).content.decode()
    assert "Reservation cancelled" in status
    assert f"The breeder cancelled this reservation: {rest} EUR of your deposit" in status
    assert "and 50.00 EUR stays with the breeder" in status
    assert "<dt>Kept by the breeder</dt><dd>50.00 EUR</dd>" in status
    assert "<dt>Status</dt><dd>Cancelled by the breeder</dd>" in status
    assert "partly refunded" not in status


@pytest.mark.parametrize("bad", ["-5", "400.01", "1000", "abc", "12.345"])
def test_a_bad_amount_to_keep_is_refused_and_nothing_changes(
    sandbox, live_server, admin_client, bad
):
    reservation = paid(sandbox, live_server, "stripe")
    assert reservation.deposit_amount == Decimal("400.00")
    _, data = action(admin_client, "refund_deposit", reservation)

    answer = admin_client.post(
        reverse(CHANGELIST),
        {**data, "refund_form": "1", "shown_keep": bad, "amount_to_keep": bad},
    )

    assert answer.status_code == 200  # the confirmation page again, with the reason
    html = answer.content.decode()
    assert "Nothing was refunded" in html
    assert "amount to keep" in html.lower()
    assert 'class="errorlist"' in html
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"
    assert not Refund.objects.exists()
    assert stripe_client.list_refunds(str(reservation.external_payment_id)) == []


@pytest.mark.parametrize("zero", ["-0", "-0.00", "-0,00"])
def test_keeping_minus_zero_keeps_nothing_and_refunds_the_whole_deposit(
    sandbox, live_server, admin_client, zero
):
    """Tried: "-0" in the amount to keep refunded the deposit but the back office read
    "Refund requested (kept -0.00)"; a breeder typing it means to keep nothing."""
    reservation = paid(sandbox, live_server, "stripe")
    _, data = action(admin_client, "refund_deposit", reservation)
    form = {"refund_form": "1", "shown_keep": zero, "amount_to_keep": zero, "puppy_available": "on"}

    shown = admin_client.post(
        reverse(CHANGELIST), {**data, "refund_form": "1", "amount_to_keep": zero}
    )
    confirm(admin_client, {**data, **form})
    drain(sandbox)

    assert "-0.00" not in shown.content.decode()
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("refunded", "owner_refunded")
    [refund] = Refund.objects.filter(reservation=reservation)
    assert refund.amount == Decimal("400.00")
    page = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[reservation.pk])
    ).content.decode()
    assert "-0.00" not in page
    assert "(kept" not in page


@pytest.mark.parametrize("provider", PROVIDERS)
def test_marked_picked_up_the_puppy_shows_sold(sandbox, live_server, admin_client, provider):
    reservation = paid(sandbox, live_server, provider)

    page, data = action(admin_client, "mark_picked_up", reservation)
    assert "shows as sold on the shop" in page
    answer = confirm(admin_client, data)
    again = confirm(admin_client, data)

    assert "is sold" in answer
    assert "nothing was changed" in again
    reservation.refresh_from_db()
    assert reservation.status == "completed"
    assert reservation.puppy.status == "sold"
    html = public_page(reservation.puppy.slug)
    assert 'data-puppy-status="sold"' in html
    assert 'class="reserve-form"' not in html
    line = AuditLog.objects.get(
        object_id=str(reservation.pk), action="reservations.reservation.completed"
    )
    assert line.actor == "staff:admin"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_released_hold_closes_the_checkout_and_frees_the_puppy(
    sandbox, live_server, admin_client, provider
):
    body = reserve(live_server, provider)
    reservation = Reservation.objects.select_related("puppy").get(pk=body["id"])
    assert reservation.puppy.status == "held"
    url = reverse("admin:reservations_reservation_release_hold", args=[reservation.pk])

    page = admin_client.get(url).content.decode()
    assert (
        "The Stripe checkout is closed, so it can no longer be paid."
        if provider == "stripe"
        else "order cannot be closed, only left to lapse"
    ) in page
    assert reservation.buyer_email in page
    answer = admin_client.post(
        url, {"post": "yes", "request_token": token_of(page)}, follow=True
    ).content.decode()
    run_worker_once()

    assert "hold released" in answer
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("cancelled", "owner_released")
    if provider == "stripe":
        session = stripe_client.retrieve_checkout_session(body["provider_reference"])
        assert session["status"] == "expired"
    assert 'class="reserve-form"' in public_page(reservation.puppy.slug)
    assert len(emails_to(reservation.buyer_email)) == 1  # told the hold was released
    line = AuditLog.objects.get(
        object_id=str(reservation.pk), action="reservations.reservation.cancelled"
    )
    assert line.actor == "staff:admin"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_resend_confirmation_sends_once_per_confirmation_page(
    sandbox, live_server, admin_client, provider
):
    reservation = paid(sandbox, live_server, provider)
    run_worker_once()
    mail.outbox.clear()

    page, data = action(admin_client, "resend_confirmation", reservation)
    assert f"sent again to {reservation.buyer_email}" in page
    first = confirm(admin_client, data)
    second = confirm(admin_client, data)  # the same page posted twice
    _, another = action(admin_client, "resend_confirmation", reservation)
    third = confirm(admin_client, another)
    run_worker_once()

    assert "queued to the buyer again" in first
    assert "already sent for this request" in second
    assert "queued to the buyer again" in third
    assert len(emails_to(reservation.buyer_email)) == 2
    assert emails_to(OWNER) == []


def test_a_picked_up_reservation_is_not_sent_its_confirmation_again(
    sandbox, live_server, admin_client
):
    """Tried: resent after pickup, it said the balance of 0.00 EUR is settled at pickup and
    that the breeder will arrange the day the puppy comes home."""
    reservation = paid(sandbox, live_server, "stripe")
    _, picked = action(admin_client, "mark_picked_up", reservation)
    confirm(admin_client, picked)
    run_worker_once()
    mail.outbox.clear()

    page, data = action(admin_client, "resend_confirmation", reservation)
    answer = confirm(admin_client, data)
    run_worker_once()

    assert "Not possible in this state: nothing will change." in page
    assert "not sent" in answer
    assert mail.outbox == []
    detail = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[reservation.pk])
    ).content.decode()
    assert "Resend confirmation" not in detail


def test_a_waiting_list_deposit_is_not_offered_picked_up(admin_client):
    """Tried: its page offered "Picked up", whose confirmation said the puppy "shows as sold"
    and whose outcome was "no confirmed deposit to hand over"."""
    entry = on_list(open_litter(), 1)
    deposit = Reservation.objects.get(pk=entry.reservation_id)

    detail = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[deposit.pk])
    ).content.decode()
    page, data = action(admin_client, "mark_picked_up", deposit)
    answer = confirm(admin_client, data)

    assert ">Picked up<" not in detail
    assert "its family has not chosen a puppy yet" in page
    assert "shows as sold" not in page
    assert "nothing was changed" in answer
    assert Reservation.objects.get(pk=deposit.pk).status == "confirmed"


def test_erase_buyer_replaces_personal_data_and_keeps_the_amounts(
    sandbox, live_server, admin_client
):
    reservation = paid(sandbox, live_server, "stripe")
    email = reservation.buyer_email
    _, refund = action(admin_client, "refund_deposit", reservation)
    confirm(admin_client, {**refund, "refund_form": "1", "shown_keep": "0", "amount_to_keep": "0"})
    drain(sandbox)

    page, data = action(admin_client, "erase_buyer", reservation)
    assert "cannot be undone" in page
    answer = confirm(admin_client, data)

    assert "personal data is erased" in answer
    reservation.refresh_from_db()
    assert email not in (reservation.buyer_email, reservation.buyer_name)
    assert reservation.buyer_phone != "+33 6 12 34 56 78"
    assert reservation.erased_at is not None
    assert (reservation.deposit_amount, reservation.currency) == (Decimal("400.00"), "EUR")
    assert Refund.objects.get(reservation=reservation).amount == Decimal("400.00")
    assert AuditLog.objects.filter(object_id=str(reservation.pk)).count() > 3
    detail = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[reservation.pk])
    ).content.decode()
    assert email not in detail
    assert "400.00 EUR" in detail


def test_erasing_a_list_familys_data_erases_the_notes_it_typed(admin_client):
    """Tried: after erasure the family's notes ("Call Jane … at 12 Rue Privee") stayed in the
    list entry and in the back office's wishes column."""
    entry = on_list(open_litter(), 1)
    WaitlistEntry.objects.filter(pk=entry.pk).update(notes="Call Jane Secretname at 12 Rue Privee")
    reservation_refund(reservation_id=entry.reservation_id, actor="staff:admin")

    _, data = action(admin_client, "erase_buyer", Reservation.objects.get(pk=entry.reservation_id))
    answer = confirm(admin_client, data)

    assert "personal data is erased" in answer
    entry.refresh_from_db()
    assert entry.notes == ""
    listed = admin_client.get(reverse("admin:reservations_waitlistentry_changelist")).content
    assert b"Secretname" not in listed


def test_erasing_an_open_reservation_is_refused_with_the_reason(sandbox, live_server, admin_client):
    reservation = paid(sandbox, live_server, "stripe")

    _, data = action(admin_client, "erase_buyer", reservation)
    answer = confirm(admin_client, data)

    assert "still open" in answer
    reservation.refresh_from_db()
    assert reservation.erased_at is None
    assert reservation.buyer_email == "buyer1@example.com"


def test_a_pending_reservation_cannot_be_refunded_and_the_list_says_why(
    sandbox, live_server, admin_client
):
    body = reserve(live_server, "stripe")
    reservation = Reservation.objects.get(pk=body["id"])

    page, data = action(admin_client, "refund_deposit", reservation)
    assert "No deposit to refund" in page
    answer = confirm(admin_client, {**data, "refund_form": "1", "shown_keep": "0"})

    assert "holds no deposit to refund" in answer
    assert Reservation.objects.get(pk=body["id"]).status == "pending"
    assert not Refund.objects.exists()


def test_staff_without_the_change_permission_gets_no_owner_actions(
    sandbox, live_server, django_user_model
):
    reservation = paid(sandbox, live_server, "stripe")
    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_reservation"))
    client = Client()
    client.force_login(viewer)

    url = reverse("admin:reservations_reservation_refund_deposit", args=[reservation.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes", "refund_form": "1"}).status_code == 403
    answer = client.post(
        reverse(CHANGELIST),
        {"action": "refund_deposit", "_selected_action": [str(reservation.pk)], "post": "yes"},
    )
    assert answer.status_code in (200, 302)
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"


def test_a_refund_never_promises_a_puppy_off_sale_is_back_on_the_shop(
    sandbox, live_server, admin_client
):
    """Tried: refunding the deposit of a puppy off sale said it "is available again on the
    shop"; it stays off the shop."""
    reservation = paid(sandbox, live_server, "stripe")
    Puppy.objects.filter(pk=reservation.puppy_id).update(is_published=False)

    page, _ = action(admin_client, "refund_deposit", reservation)

    assert "is free again but stays off the shop (it is off sale)" in page
    assert "is available again on the shop." not in page


def test_releasing_a_list_deposits_hold_speaks_of_the_familys_place(admin_client):
    """Tried: it said "Waiting list: … is available again", as if the list were a puppy."""
    entry = joined(open_litter(), 1)
    deposit = Reservation.objects.get(pk=entry.reservation_id)

    _, data = action(admin_client, "release_hold", deposit)
    answer = confirm(admin_client, data)

    assert "hold released — the family&#x27;s place is free again" in answer
    assert Reservation.objects.get(pk=deposit.pk).status == "cancelled"
