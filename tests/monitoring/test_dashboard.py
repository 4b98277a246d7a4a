"""The back office's home says what needs the breeder, and where the money is: each figure
matches the database, is shown with its currency, and links to the admin list of its rows."""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.db import locked_transaction
from kennel.core.models import SideEffect
from kennel.monitoring.dashboard import Money, dashboard_figures
from kennel.monitoring.models import ReconciliationRun
from kennel.payments.models import Refund, WebhookEvent
from kennel.reservations import services
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory, ReservationFactory
from tests.notifications.helpers import confirm, hold

pytestmark = pytest.mark.django_db


@dataclass
class Shop:
    running: list[Reservation]  # the holds running now, soonest to end first
    overdue: Reservation  # pending, past its time, not yet swept
    swept: Reservation  # expired by the sweep
    processing: list[Reservation]
    hazel: Reservation  # EUR 2000 / 400, a refund pending
    juno: Reservation  # EUR 1500 / 300, partly refunded (100), its confirmation email dead
    kit: Reservation  # EUR 1000 / 200, picked up
    luna: Reservation  # GBP 6000 / 1200
    milo: Reservation  # GBP 2500 / 500, refunded in full
    failed_refund: Refund
    pending_refund: Refund
    webhook_failed: WebhookEvent
    webhook_stuck: WebhookEvent
    dead_email: SideEffect
    dead_close: SideEffect
    run: ReconciliationRun


def puppy(name: str, price: str, currency: str = "EUR") -> Puppy:
    made = PuppyFactory(name=name, slug=name.lower(), price=Decimal(price), currency=currency)
    assert isinstance(made, Puppy)
    return made


def email_of(buyer: str) -> str:
    """Each family its own address: "Ann Able" -> ann.able@example.com."""
    return f"{buyer.lower().replace(' ', '.')}@example.com"


def held(pup: Puppy, buyer: str) -> Reservation:
    return hold(pup, consent=False, name=buyer, email=email_of(buyer))


def paid(name: str, price: str, currency: str = "EUR", *, buyer: str) -> Reservation:
    reservation = held(puppy(name, price, currency), buyer)
    return confirm(reservation, payment_id=f"pi_{name.lower()}")


def refund(reservation: Reservation | None, amount: str, status: str, **fields: Any) -> Refund:
    payment_id = reservation.external_payment_id if reservation else "pi_orphan"
    values: dict[str, Any] = {
        "reservation": reservation,
        "provider": "stripe",
        "external_payment_id": payment_id,
        "amount": Decimal(amount),
        "currency": reservation.currency if reservation else "EUR",
        "reason": Refund.Reason.OWNER,
        "status": status,
        "idempotency_key": f"refund:test:{payment_id}:{amount}:{status}",
        **fields,
    }
    return Refund.objects.create(**values)


def webhook(event_id: str, status: str, *, minutes_ago: int = 0) -> WebhookEvent:
    event = WebhookEvent.objects.create(
        provider="stripe", event_id=event_id, type="checkout.session.completed", body="{}"
    )
    received = timezone.now() - timedelta(minutes=minutes_ago)
    WebhookEvent.objects.filter(pk=event.pk).update(status=status, received_at=received)
    return WebhookEvent.objects.get(pk=event.pk)


@pytest.fixture
def shop(settings: Any) -> Shop:
    """A day at the kennel: holds running and run out, payments in progress, deposits in
    euros and pounds (one partly, one fully refunded, one puppy gone home), a refund refused
    and one in flight, webhooks failing, work given up, and a reconciliation on record."""
    settings.DEPOSIT_SHARE = 0.2
    settings.OWNER_EMAIL = ""
    now = timezone.now()

    swept = held(puppy("Sage", "1800"), "Sam Swept")
    Reservation.objects.filter(pk=swept.pk).update(expires_at=now - timedelta(minutes=5))
    assert services.reservations_expire_due() == 1
    overdue = held(puppy("Olive", "1800"), "Oscar Overdue")
    Reservation.objects.filter(pk=overdue.pk).update(expires_at=now - timedelta(minutes=1))

    running = []
    holds = [("Biscuit", "Ann Able", 10), ("Clover", "Ben Baker", 20), ("Dora", "Cat Cole", 25)]
    for name, buyer, minutes in holds:
        reservation = held(puppy(name, "1800"), buyer)
        Reservation.objects.filter(pk=reservation.pk).update(
            expires_at=now + timedelta(minutes=minutes)
        )
        running.append(Reservation.objects.get(pk=reservation.pk))

    processing = []
    for name, currency, buyer in [("Pip", "EUR", "Pat Pending"), ("Rex", "GBP", "Rose Slow")]:
        reservation = held(puppy(name, "1800", currency), buyer)
        with locked_transaction():
            locked = services.lock_for_payment(reservation_id=reservation.pk)
            assert services.reservation_mark_processing(locked, actor="test")
        processing.append(locked)

    hazel = paid("Hazel", "2000", buyer="Hal Hazel")
    juno = paid("Juno", "1500", buyer="June Juno")
    kit = paid("Kit", "1000", buyer="Kim Kit")
    assert services.reservation_mark_picked_up(reservation_id=kit.pk, actor="staff:test")
    luna = paid("Luna", "6000", "GBP", buyer="Lou Luna")
    milo = paid("Milo", "2500", "GBP", buyer="Mia Milo")
    with locked_transaction():
        locked = services.lock_for_payment(reservation_id=milo.pk)
        assert services.reservation_refunded(locked, actor="stripe:evt_refunded")
    refund(milo, "500.00", Refund.Status.SUCCEEDED)

    refund(juno, "100.00", Refund.Status.SUCCEEDED)  # partial: Juno stays confirmed
    pending_refund = refund(hazel, "50.00", Refund.Status.PENDING)
    # A second payment for Hazel, sent back: never part of her deposit, so not of the money held.
    refund(
        hazel,
        "400.00",
        Refund.Status.SUCCEEDED,
        external_payment_id="pi_hazel_again",
        reason=Refund.Reason.DUPLICATE_PAYMENT,
    )
    failed_refund = refund(
        None,
        "150.00",
        Refund.Status.FAILED,
        reason=Refund.Reason.LATE_PAYMENT,
        last_error="charge_already_refunded",
    )

    webhook_failed = webhook("evt_failed", WebhookEvent.Status.FAILED, minutes_ago=2)
    webhook_stuck = webhook("evt_stuck", WebhookEvent.Status.PENDING, minutes_ago=12)
    webhook("evt_fresh", WebhookEvent.Status.PENDING, minutes_ago=1)  # being processed
    webhook("evt_done", WebhookEvent.Status.PROCESSED, minutes_ago=30)

    # The worker gave up on Juno's confirmation email (the mail server refused it)…
    dead_email = SideEffect.objects.get(reservation_id=juno.pk, kind=Effect.BUYER_CONFIRMATION)
    SideEffect.objects.filter(pk=dead_email.pk).update(
        status=SideEffect.Status.DEAD, attempts=8, last_error="550 mailbox unavailable"
    )
    # …and on closing the overdue hold's checkout at the provider.
    dead_close = SideEffect.objects.create(
        kind=Effect.CHECKOUT_CLOSE,
        reservation_id=overdue.pk,
        recipient="stripe",
        dedup_key=f"{overdue.pk}:checkout_close:stripe",
        queue="money",
        status=SideEffect.Status.DEAD,
        attempts=8,
        next_attempt_at=now,
        last_error="provider unavailable",
    )

    with pytest.raises(SystemExit):  # the refused refund needs attention: exit status 1
        call_command("reconcile_payments", stdout=StringIO())

    return Shop(
        running=running,
        overdue=overdue,
        swept=Reservation.objects.get(pk=swept.pk),
        processing=processing,
        hazel=hazel,
        juno=juno,
        kit=kit,
        luna=luna,
        milo=milo,
        failed_refund=failed_refund,
        pending_refund=pending_refund,
        webhook_failed=webhook_failed,
        webhook_stuck=webhook_stuck,
        dead_email=SideEffect.objects.get(pk=dead_email.pk),
        dead_close=dead_close,
        run=ReconciliationRun.objects.get(),
    )


class Links(HTMLParser):
    """Every link of a page: its address and its text (tags inside it dropped)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open.append((dict(attrs).get("href") or "", []))

    def handle_data(self, data: str) -> None:
        for _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.found.append((href, " ".join("".join(text).split())))

    def to(self, text: str) -> str:
        """The address of the one link that reads `text`."""
        hrefs = [href for href, shown in self.found if shown == text]
        assert len(hrefs) == 1, f"{text!r} is linked {len(hrefs)} times: {self.found}"
        return hrefs[0]


def rows_at(client: Client, url: str) -> list[Model]:
    """The rows an admin list shows at `url` (a filter the admin refuses would redirect)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return list(response.context["cl"].result_list)


def test_the_figures_match_the_database(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):
        figures = dashboard_figures()

    assert [h.puppy for h in figures.holds] == ["Biscuit", "Clover", "Dora"]
    assert [h.buyer for h in figures.holds] == ["Ann Able", "Ben Baker", "Cat Cole"]
    assert [h.ends_at for h in figures.holds] == [r.expires_at for r in shop.running]
    assert figures.processing.count == 2

    eur, gbp = figures.books
    assert (eur.currency, eur.confirmed, eur.deposits) == ("EUR", 2, Money(Decimal(700), "EUR"))
    # 400 + 300 + 200 (picked up) less 100 refunded to Juno and 50 being refunded to Hazel.
    assert eur.held == Money(Decimal("750.00"), "EUR")
    assert eur.to_collect == Money(Decimal("2800.00"), "EUR")  # 1600 + 1200
    # Milo's deposit went back in full: neither confirmed nor held any more.
    assert (gbp.currency, gbp.confirmed, gbp.deposits) == ("GBP", 1, Money(Decimal(1200), "GBP"))
    assert gbp.held == Money(Decimal("1200.00"), "GBP")
    assert gbp.to_collect == Money(Decimal("4800.00"), "GBP")

    assert {f.label: f.count for f in figures.attention} == {
        "Refunds that failed": 1,
        "Refunds not yet confirmed by the provider": 1,
        "Webhook events failed": 1,
        "Webhook events unprocessed for over 5 minutes": 1,
        "Emails that could not be sent": 1,
        "Background work given up (Provider: close the checkout)": 1,
    }
    assert not figures.all_clear
    assert figures.suspicious == []  # one hold per family, nobody leaving checkouts

    run = figures.reconciliation
    assert run is not None
    assert (run.finished_at, run.needs_attention, run.lines) == (
        shop.run.finished_at,
        True,
        shop.run.lines,
    )
    assert "refund refused by stripe: 150.00 EUR for payment pi_orphan" in run.lines


def test_the_home_page_shows_each_figure_and_links_to_its_rows(shop, admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    links = Links(html)

    # Holds running now: the count, each puppy with when its hold ends, the list of them.
    held = rows_at(admin_client, links.to("3 holds waiting for payment"))
    assert held == shop.running[::-1]  # the list shows the newest first
    for reservation in shop.running:
        change = reverse("admin:reservations_reservation_change", args=[reservation.pk])
        assert links.to(reservation.puppy.name) == change
        assert f"{timezone.localtime(reservation.expires_at):%H:%M}" in html
    for name in ("Olive", "Sage"):
        assert name not in html  # run out: not running, whatever the sweep has done

    in_progress = rows_at(admin_client, links.to("2 payments in progress"))
    assert set(in_progress) == set(shop.processing)

    # The money, per currency, with its currency.
    confirmed = links.to("2 confirmed reservations · 700.00 EUR")
    assert set(rows_at(admin_client, confirmed)) == {shop.hazel, shop.juno}
    assert set(rows_at(admin_client, links.to("750.00 EUR"))) == {shop.hazel, shop.juno, shop.kit}
    assert set(rows_at(admin_client, links.to("2,800.00 EUR"))) == {shop.hazel, shop.juno}
    assert rows_at(admin_client, links.to("1 confirmed reservation · 1,200.00 GBP")) == [shop.luna]
    assert rows_at(admin_client, links.to("1,200.00 GBP")) == [shop.luna]
    assert rows_at(admin_client, links.to("4,800.00 GBP")) == [shop.luna]

    # What needs attention, each where it is acted on.
    assert rows_at(admin_client, links.to("Refunds that failed: 1")) == [shop.failed_refund]
    assert rows_at(admin_client, links.to("Refunds not yet confirmed by the provider: 1")) == [
        shop.pending_refund
    ]
    assert rows_at(admin_client, links.to("Webhook events failed: 1")) == [shop.webhook_failed]
    assert rows_at(admin_client, links.to("Webhook events unprocessed for over 5 minutes: 1")) == [
        shop.webhook_stuck
    ]
    assert rows_at(admin_client, links.to("Emails that could not be sent: 1")) == [shop.dead_email]
    assert rows_at(
        admin_client,
        links.to("Background work given up (Provider: close the checkout): 1"),
    ) == [shop.dead_close]
    assert "Nothing needs you right now" not in html

    # The last reconciliation: when, its verdict and what it found, linked to the refunds.
    finished = timezone.localtime(shop.run.finished_at)
    assert f'datetime="{finished.isoformat()}"' in html
    assert f"{finished:%H:%M}" in html
    assert reverse("admin:payments_refund_changelist") == links.to("needs attention")
    for line in shop.run.lines:
        assert f"<li>{line}</li>" in html

    # The sections are still there, below the dashboard.
    assert html.index("Last reconciliation") < html.index("Puppies &amp; litters")


def test_a_quiet_day_says_nothing_needs_the_breeder(admin_client):
    PuppyFactory()  # on sale, nobody holding it

    html = admin_client.get(reverse("admin:index")).content.decode()

    assert "Nothing needs you right now." in html
    assert "No holds running." in html
    assert "No payments in progress." in html
    assert "No confirmed deposits yet." in html
    assert "No reconciliation has run yet" in html
    assert "No suspicious holds." in html
    assert dashboard_figures().all_clear


def test_a_reconciliation_that_balanced_says_so_and_asks_for_nothing(admin_client):
    paid("Hazel", "2000", buyer="Hal Hazel")
    call_command("reconcile_payments", stdout=StringIO())

    html = admin_client.get(reverse("admin:index")).content.decode()

    assert "the books balance" in html
    assert "Nothing needs you right now." in html
    assert Links(html).to("1 confirmed reservation · 400.00 EUR")


def test_the_money_is_shown_only_to_staff_who_may_see_reservations(shop, client):
    puppies_only = User.objects.create_user("helper", password="x", is_staff=True)
    puppies_only.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="catalogue")
    )
    client.force_login(puppies_only)

    html = client.get(reverse("admin:index")).content.decode()

    assert "Puppies &amp; litters" in html
    for hidden in ("EUR", "Needs attention", "Holds running now", "Reservations &amp; payments"):
        assert hidden not in html


def test_the_page_keeps_to_the_content_security_policy(shop, admin_client):
    response = admin_client.get(reverse("admin:index"))
    html = response.content.decode()

    assert "style=" not in html
    assert "<script>" not in html  # every script the admin loads has a src
    assert "/static/kennel/admin/dashboard.css" in html
    css = admin_client.get("/static/kennel/admin/dashboard.css")
    try:
        assert css.status_code == 200
        assert b".kennel-dashboard" in b"".join(css.streaming_content)
    finally:
        css.close()


def left_checkout(minutes_ago: int, **fields: Any) -> Reservation:
    """A hold its buyer cancelled (left the provider's checkout) `minutes_ago`."""
    made = ReservationFactory(
        status=Reservation.Status.CANCELLED,
        status_reason=Reservation.Reason.BUYER_CANCELLED,
        closed_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )
    assert isinstance(made, Reservation)
    return made


def test_suspicious_holds_are_shown_and_released_through_their_link(admin_client):
    # One address holding three puppies under two emails, one of them paying right now…
    greedy = [
        ReservationFactory(client_key="k-greedy", buyer_email="a@bot.example"),
        ReservationFactory(client_key="k-greedy", buyer_email="b@bot.example"),
        ReservationFactory(
            client_key="k-greedy", buyer_email="b@bot.example", status=Reservation.Status.PROCESSING
        ),
    ]
    # …one that left four checkouts in the last hour (and one long before), holding one now…
    for minutes in (5, 15, 30, 55, 120):
        left_checkout(minutes, client_key="k-leaver", buyer_email="leaver@example.com")
    leaver_hold = ReservationFactory(client_key="k-leaver", buyer_email="leaver@example.com")
    # …and one email that left three checkouts, each from another address.
    for n in range(3):
        left_checkout(10 + n, client_key=f"k-roaming-{n}", buyer_email="roam@example.com")
    # Families: one hold and one change of mind; three checkouts left, but yesterday.
    ReservationFactory(client_key="k-family", buyer_email="family@example.com")
    left_checkout(20, client_key="k-family", buyer_email="family@example.com")
    for minutes in (61, 90, 24 * 60):
        left_checkout(minutes, client_key="k-slow", buyer_email="slow@example.com")

    figures = dashboard_figures()

    assert [(s.who, s.holding, s.cancelled) for s in figures.suspicious] == [
        ("a@bot.example and 1 other email, from one internet address", 3, 0),
        ("leaver@example.com, from one internet address", 1, 4),
        ("roam@example.com", 0, 3),
    ]
    assert not figures.all_clear

    html = admin_client.get(reverse("admin:index")).content.decode()
    links = Links(html)
    assert "No suspicious holds." not in html
    assert links.to("Suspicious holds (below): 3") == "#kennel-suspicious"
    assert set(rows_at(admin_client, links.to("4 cancelled"))) == set(
        Reservation.objects.filter(
            client_key="k-leaver",
            status="cancelled",
            closed_at__gt=timezone.now() - timedelta(hours=1),
        )
    )
    assert len(rows_at(admin_client, links.to("3 cancelled"))) == 3
    assert rows_at(admin_client, links.to("1 hold")) == [leaver_hold]

    # The greedy address's link lists its three holds, ready for the release action.
    url = links.to("3 holds")
    assert "client_key__exact=k-greedy" in url
    assert set(rows_at(admin_client, url)) == set(greedy)
    selected = {"action": "release_hold", "_selected_action": [str(r.pk) for r in greedy]}
    page = admin_client.post(url, selected)
    assert page.status_code == 200
    confirmation = page.content.decode()
    assert "These 3 reservations" in confirmation
    assert "Each hold is cancelled" in confirmation
    token = re.search(r'name="request_token" value="([^"]+)"', confirmation)
    assert token
    assert Reservation.objects.filter(client_key="k-greedy", status="cancelled").count() == 0

    done = admin_client.post(
        url, {**selected, "post": "yes", "request_token": token.group(1)}, follow=True
    )

    assert done.status_code == 200
    assert done.content.decode().count("hold released") == 3
    for reservation in greedy:
        reservation.refresh_from_db()
        assert (reservation.status, reservation.status_reason) == ("cancelled", "owner_released")
        assert Puppy.objects.get(pk=reservation.puppy_id).status == Puppy.Status.AVAILABLE
    assert rows_at(admin_client, url) == []
    after = dashboard_figures().suspicious
    assert [(s.who, s.holding, s.cancelled) for s in after] == [
        ("leaver@example.com, from one internet address", 1, 4),
        ("roam@example.com", 0, 3),
    ]


def test_an_email_listed_under_its_one_address_is_not_listed_twice():
    for minutes in (1, 2, 3):
        left_checkout(minutes, client_key="k-one", buyer_email="one@example.com")

    assert [(s.who, s.cancelled) for s in dashboard_figures().suspicious] == [
        ("one@example.com, from one internet address", 3)
    ]
