"""Provider events and background work in the back office: replaying events and retrying dead
work each go through a confirmation page; events and refunds show their amounts with the
currency and link back to their reservation."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from kennel.core.models import AuditLog, SideEffect
from kennel.payments.models import WebhookEvent
from kennel.reservations.effects import Effect
from tests.conftest import run_worker_once
from tests.core.test_security_headers import INLINE
from tests.payments.flow import confirmations, run_webhook_jobs
from tests.reservations.test_admin_actions import action, confirm, drain, paid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_replaying_events_asks_first_then_reprocesses_them_without_a_second_confirmation(
    sandbox, live_server, admin_client, provider
):
    reservation = paid(sandbox, live_server, provider)
    events = list(WebhookEvent.objects.filter(status="processed"))
    assert events
    changelist = reverse("admin:payments_webhookevent_changelist")
    selected = {"action": "replay_events", "_selected_action": [e.pk for e in events]}

    page = admin_client.post(changelist, selected)

    assert page.status_code == 200
    html = page.content.decode()
    assert "from its provider and applies only what is not yet so" in html
    assert f"{reservation.puppy.name} for {reservation.buyer_name}" in html
    assert not INLINE.findall(html)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) <= {"processed", "ignored"}

    token = re.search(r'name="request_token" value="([^"]+)"', html)
    assert token
    done = admin_client.post(
        changelist, {**selected, "post": "yes", "request_token": token.group(1)}, follow=True
    )
    queued = "1 event" if len(events) == 1 else f"{len(events)} events"
    assert f"{queued} queued to be processed again." in done.content.decode()
    assert set(
        WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("status", flat=True)
    ) == {"pending"}
    run_webhook_jobs()

    assert set(
        WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("status", flat=True)
    ) == {"processed"}
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    assert confirmations(str(reservation.pk)) == 1
    replayed = AuditLog.objects.filter(action="payments.webhook_event.replayed")
    assert replayed.count() == len(events)
    assert {line.actor for line in replayed} == {"staff:admin"}


def test_retrying_dead_work_asks_first_then_sends_it_once(
    sandbox, live_server, admin_client, settings
):
    settings.OWNER_EMAIL = ""
    reservation = paid(sandbox, live_server, "stripe")
    email = SideEffect.objects.get(reservation_id=reservation.pk, kind=Effect.BUYER_CONFIRMATION)
    # As the worker leaves it when the mail server refused it for good.
    SideEffect.objects.filter(pk=email.pk).update(
        status="dead", attempts=8, last_error="SMTP 550 mailbox unavailable"
    )
    changelist = reverse("admin:core_sideeffect_changelist")
    selected = {"action": "retry_dead", "_selected_action": [email.pk]}

    page = admin_client.post(changelist, selected)

    html = page.content.decode()
    assert page.status_code == 200
    assert "Buyer: deposit confirmed" in html
    assert reservation.buyer_email in html
    assert "SMTP 550 mailbox unavailable" in html
    assert not INLINE.findall(html)
    assert SideEffect.objects.get(pk=email.pk).status == "dead"

    token = re.search(r'name="request_token" value="([^"]+)"', html)
    assert token
    confirmed = {**selected, "post": "yes", "request_token": token.group(1)}
    first = admin_client.post(changelist, confirmed, follow=True).content.decode()
    second = admin_client.post(changelist, confirmed, follow=True).content.decode()
    run_worker_once()

    assert "1 side effect queued again." in first
    assert "0 side effects queued again." in second
    assert "1 selected row was not dead and was left alone." in second
    assert SideEffect.objects.get(pk=email.pk).status == "sent"
    assert [m.to for m in mail.outbox].count([reservation.buyer_email]) == 1
    line = AuditLog.objects.get(action="core.side_effect.retried")
    assert line.actor == "staff:admin"


def test_events_and_refunds_show_amounts_with_currency_and_link_their_reservation(
    sandbox, live_server, admin_client
):
    reservation = paid(sandbox, live_server, "stripe")
    _, data = action(admin_client, "refund_deposit", reservation)
    confirm(admin_client, {**data, "refund_form": "1", "shown_keep": "0", "amount_to_keep": "0"})
    drain(sandbox)
    link = reverse("admin:reservations_reservation_change", args=[reservation.pk])

    events = admin_client.get(reverse("admin:payments_webhookevent_changelist")).content.decode()
    refunds = admin_client.get(reverse("admin:payments_refund_changelist")).content.decode()

    assert "400.00 EUR" in events
    assert events.count(f'href="{link}"') >= 3  # completed, charge.refunded, refund.created…
    assert "400.00 EUR" in refunds
    assert f'href="{link}"' in refunds
    assert not INLINE.findall(events)
    assert not INLINE.findall(refunds)
    completed = WebhookEvent.objects.get(type="checkout.session.completed")
    one = admin_client.get(reverse("admin:payments_webhookevent_change", args=[completed.pk]))
    assert f'href="{link}"' in one.content.decode()
