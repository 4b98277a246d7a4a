"""When the mail server or an endpoint fails: retried with backoff, finally `dead` and visible in
the admin, retried from there — and the reservation is never affected."""

from datetime import timedelta

import pytest
from django.urls import reverse

from kennel.core.db import locked_transaction
from kennel.core.models import AuditLog, SideEffect
from kennel.core.outbox import retry_delay
from kennel.reservations import services
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm, drain, hold, statuses
from tests.notifications.servers import SmtpSink, free_port

pytestmark = pytest.mark.django_db(transaction=True)
K = Effect


@pytest.fixture
def smtp_down(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2


def _assert_untouched(reservation: Reservation) -> None:
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    assert reservation.puppy is not None
    assert reservation.puppy.status == "reserved"


def test_a_mail_server_that_is_down_is_retried_with_backoff_then_the_email_is_dead(
    owner, smtp_down, fast_retries
):
    reservation = confirm(hold(PuppyFactory(), consent=False))

    drain()

    assert statuses(reservation) == {K.OWNER_DEPOSIT: "dead", K.BUYER_CONFIRMATION: "dead"}
    for effect in SideEffect.objects.all():
        assert effect.attempts == 3
        assert "attempt 3" in effect.last_error
        assert "ConnectionRefusedError" in effect.last_error
        assert effect.sent_at is None
    assert AuditLog.objects.filter(action="core.side_effect.dead").count() == 2
    _assert_untouched(reservation)


def test_ga4_answering_500_and_meta_timing_out_are_retried_then_dead(
    owner, ga4_endpoint, meta_endpoint, fast_retries, settings
):
    settings.OWNER_EMAIL = ""
    ga4_endpoint.answer = lambda path, body: (500, {"error": "backend error"})
    meta_endpoint.delay = 2.0  # ANALYTICS_TIMEOUT_SECONDS is 0.5

    reservation = confirm(hold(PuppyFactory()))
    drain()

    assert len(ga4_endpoint.hits) == 3
    assert len(meta_endpoint.hits) == 3
    ga4 = SideEffect.objects.get(kind=K.GA4_PURCHASE)
    meta = SideEffect.objects.get(kind=K.META_PURCHASE)
    assert (ga4.status, ga4.attempts) == ("dead", 3)
    assert "HTTP 500" in ga4.last_error
    assert "ga4-test-secret" not in ga4.last_error  # the query string stays out of errors
    assert (meta.status, meta.attempts) == ("dead", 3)
    assert "no answer within 0.5s" in meta.last_error
    assert SideEffect.objects.get(kind=K.BUYER_CONFIRMATION).status == "sent"
    _assert_untouched(reservation)


def test_an_endpoint_back_before_the_last_attempt_gets_the_event_once(
    owner, ga4_endpoint, fast_retries, settings
):
    settings.OWNER_EMAIL = ""
    answers = iter([(503, {}), (200, {})])
    ga4_endpoint.answer = lambda path, body: next(answers)

    reservation = confirm(hold(PuppyFactory()))
    drain()

    ga4 = SideEffect.objects.get(kind=K.GA4_PURCHASE)
    assert (ga4.status, ga4.attempts, ga4.last_error) == ("sent", 2, "")
    assert [h.status for h in ga4_endpoint.hits] == [503, 200]
    _assert_untouched(reservation)


def test_a_payload_meta_refuses_is_dead_at_once_and_a_transient_refusal_is_retried(
    owner, meta_endpoint, fast_retries, settings
):
    settings.OWNER_EMAIL = ""
    refusals = {
        "permanent": (400, {"error": {"message": "Invalid parameter", "code": 100}}),
        "transient": (400, {"error": {"message": "try later", "code": 2, "is_transient": True}}),
    }
    first, second = PuppyFactory(), PuppyFactory()
    meta_endpoint.answer = lambda path, body: refusals[
        "permanent"
        if body["data"][0]["custom_data"]["content_ids"] == [first.slug]
        else "transient"
    ]

    confirm(hold(first), payment_id="pi_first")
    confirm(hold(second, email="john@example.com"), payment_id="pi_second")
    drain()

    permanent, transient = (
        SideEffect.objects.get(
            kind=K.META_PURCHASE, reservation_id__in=puppy.reservations.values("pk")
        )
        for puppy in (first, second)
    )
    assert (permanent.status, permanent.attempts) == ("dead", 1)
    assert "HTTP 400" in permanent.last_error
    assert (transient.status, transient.attempts) == ("dead", 3)


def test_dead_side_effects_show_in_the_admin_and_its_retry_action_sends_them(
    owner, smtp_down, fast_retries, admin_client, settings
):
    reservation = confirm(hold(PuppyFactory(), consent=False))
    drain()
    changelist = reverse("admin:core_sideeffect_changelist")

    page = admin_client.get(changelist, {"status__exact": "dead"})

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("ConnectionRefusedError") == 2
    assert "Retry the selected dead side effects" in html

    sink = SmtpSink().start()
    try:
        settings.EMAIL_PORT = sink.port
        ids = list(SideEffect.objects.values_list("pk", flat=True))
        answer = admin_client.post(
            changelist,
            {"action": "retry_dead", "post": "yes", "_selected_action": ids},
            follow=True,
        )
        assert "2 side effects queued again." in answer.content.decode()
        assert set(statuses(reservation).values()) == {"pending"}
        drain()
        assert len(sink.wait_for(2)) == 2
    finally:
        sink.stop()
    assert set(statuses(reservation).values()) == {"sent"}
    retried = AuditLog.objects.filter(action="core.side_effect.retried")
    assert retried.count() == 2
    assert retried.first().actor == "staff:admin"
    _assert_untouched(reservation)


def test_the_retry_action_leaves_rows_that_are_not_dead_alone(owner, admin_client):
    confirm(hold(PuppyFactory(), consent=False))
    ids = list(SideEffect.objects.values_list("pk", flat=True))
    tasks_before = list(SideEffect.objects.values_list("task_id", flat=True))

    admin_client.post(
        reverse("admin:core_sideeffect_changelist"),
        {"action": "retry_dead", "post": "yes", "_selected_action": ids},
    )

    assert list(SideEffect.objects.values_list("task_id", flat=True)) == tasks_before
    assert not AuditLog.objects.filter(action="core.side_effect.retried").exists()


@pytest.mark.django_db(transaction=False)
def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter_between_half_and_all(settings):
    settings.SIDE_EFFECT_RETRY_BASE_SECONDS = 30
    settings.SIDE_EFFECT_RETRY_MAX_SECONDS = 3600

    lowest = [retry_delay(n, rng=lambda: 0.0).total_seconds() for n in range(1, 11)]
    highest = [retry_delay(n, rng=lambda: 0.999999).total_seconds() for n in range(1, 11)]

    assert lowest == [15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
    assert [round(h) for h in highest] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert retry_delay(500, rng=lambda: 0.5) <= timedelta(seconds=3600)


@pytest.mark.django_db(transaction=False)
def test_with_the_default_settings_an_hour_long_outage_loses_nothing():
    # Even with the unluckiest jitter, the attempts outlast a one-hour outage by far.
    from django.conf import settings

    attempts = settings.SIDE_EFFECT_MAX_ATTEMPTS
    shortest_wait = sum(retry_delay(n, rng=lambda: 0.0).total_seconds() for n in range(1, attempts))

    assert shortest_wait > 2 * 3600


def test_what_an_outage_held_back_is_not_sent_once_it_stopped_being_true(
    owner, smtp_down, ga4_endpoint, meta_endpoint, fast_retries, settings, mailoutbox
):
    """Tried: with the mail server down, a deposit was confirmed and refunded in full; once
    it was back, the buyer read "being refunded" and then "your deposit is confirmed …
    nobody else can reserve Rosie", and a processing payment's "being processed" came after
    its "confirmed"; GA4 and Meta were sent the refunded sale."""
    settings.SIDE_EFFECT_MAX_ATTEMPTS = 1000  # no row gives up during the outage
    # A failed row is not due again within one pass of the worker, however slow the machine:
    # with fast_retries' 0.1 s, a pass slower than that kept retrying until the rows died.
    settings.SIDE_EFFECT_RETRY_BASE_SECONDS = settings.SIDE_EFFECT_RETRY_MAX_SECONDS = 10
    ga4_endpoint.answer = meta_endpoint.answer = lambda path, body: (500, {})
    refunded = confirm(hold(PuppyFactory(name="Rosie")))
    for _ in range(2):  # the outage: each row fails once or twice
        run_worker_once()
    with locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=refunded.pk)
        assert services.reservation_refunded(locked, actor="test")
        services.refund_notices_enqueue(
            reservation=locked,
            payment_id="pi_test_1",
            amount=locked.deposit_amount,
            currency=locked.currency,
            reason="provider",
        )
    processing = hold(PuppyFactory(name="Honey"), consent=False, email="honey@example.com")
    with locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=processing.pk)
        assert services.reservation_mark_processing(locked, actor="test")
    confirm(processing, payment_id="pi_test_2")

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # mail is back
    ga4_endpoint.answer = meta_endpoint.answer = lambda path, body: (200, {})
    drain()

    def subjects(to: str) -> list[str]:
        return sorted(str(m.subject) for m in mailoutbox if m.to == [to])

    assert subjects("jane.doe@example.com") == ["Your payment for Rosie is being refunded"]
    assert subjects("honey@example.com") == ["Your deposit for Honey is confirmed"]
    assert subjects(owner) == [
        "Deposit received: Honey, for Jane Doe",
        "Refund issued: Rosie, Jane Doe",
    ]
    tried = ga4_endpoint.hits + meta_endpoint.hits
    assert tried  # both were tried during the outage, and never sent the refunded sale
    assert {hit.status for hit in tried} == {500}
    skipped = SideEffect.objects.get(reservation_id=refunded.pk, kind=K.BUYER_CONFIRMATION)
    assert skipped.status == "sent"
    assert skipped.last_error == "not sent: the reservation is refunded now"
