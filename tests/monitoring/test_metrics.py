"""GET /metrics: Prometheus text with the kennel_ families, counters fed by the services
themselves, gauges read from the database (absent, with kennel_database_up 0, when it is
away), and a token that protects it when set."""

from collections.abc import Iterator

import pytest
from django.db import transaction
from django.urls import reverse
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from kennel.catalogue.models import Puppy
from kennel.core import outbox
from kennel.core.errors import PuppyNotAvailable
from kennel.core.models import SideEffect
from kennel.core.outbox import DeliveryFailed, DeliveryRefused, outbox_enqueue, side_effect_run
from kennel.reservations.services import reservation_hold
from tests.conftest import unreachable_database
from tests.factories import PuppyFactory
from tests.payments.stripe_helpers import reserve

KENNEL_FAMILIES = {
    "kennel_database_up",
    "kennel_reservations",
    "kennel_side_effects",
    "kennel_webhook_events",
    "kennel_http_request_duration_seconds",
    "kennel_reservation_holds",
}


def _families(text: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """Family name → {(sample name, sorted labels): value}."""
    return {
        family.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def _value(name: str, **labels: str) -> float:
    """This process's value of a counter (0 before its first increment)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_metrics_is_prometheus_text_with_the_kennel_families(client, puppy, buyer):
    reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe")
    client.get("/")

    answer = client.get("/metrics")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = _families(answer.content.decode())
    assert set(families) >= KENNEL_FAMILIES
    assert all(name.startswith("kennel_") for name in families)
    assert families["kennel_database_up"] == {("kennel_database_up", ()): 1.0}
    assert families["kennel_reservations"][("kennel_reservations", (("status", "pending"),))] == 1
    index = ("GET", "catalogue:index", "200")
    routes = {
        tuple(dict(labels)[k] for k in ("method", "route", "status"))
        for name, labels in families["kennel_http_request_duration_seconds"]
        if name == "kennel_http_request_duration_seconds_count"
    }
    assert index in routes
    assert not any(route.startswith("/") for _, route, _ in routes)  # names, never paths


@pytest.mark.django_db
def test_head_on_metrics_answers_like_get(client):
    get, head = client.get("/metrics"), client.head("/metrics")
    assert head.status_code == get.status_code == 200
    assert head["Content-Type"] == get["Content-Type"]
    assert head.content == b""


@pytest.mark.django_db
def test_a_scraper_asking_for_openmetrics_gets_it(client):
    answer = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/openmetrics-text")
    assert answer.content.decode().rstrip().endswith("# EOF")


@pytest.mark.django_db
def test_the_token_protects_metrics_when_it_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-me-7f3a"

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0000"})
    basic = client.get("/metrics", headers={"Authorization": "Basic c2NyYXBlLW1lLTdmM2E="})
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-7f3a"})

    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 403
    assert basic.status_code == 401
    assert right.status_code == 200
    assert "kennel_database_up 1.0" in right.content.decode()


@pytest.mark.django_db(transaction=True)
def test_metrics_answers_without_the_database_and_says_it_is_down(client, caplog):
    with unreachable_database():
        answer = client.get("/metrics")
    # Tried: every scrape during an outage logged a whole traceback; one line says it.
    [line] = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert line.levelname == "WARNING"
    assert line.exc_info is None
    # Tried: psycopg's reason spans two lines ("…refused\n\tIs the server running…"):
    # a log collector took its second half for a line of its own.
    assert "\n" not in line.getMessage()

    assert answer.status_code == 200
    families = _families(answer.content.decode())
    assert families["kennel_database_up"] == {("kennel_database_up", ()): 0.0}
    assert "kennel_reservations" not in families
    assert "kennel_side_effects" not in families


@pytest.mark.django_db
def test_holds_won_and_lost_are_counted(puppy, buyer):
    won = _value("kennel_reservation_holds_total", outcome="won")
    lost = _value("kennel_reservation_holds_total", outcome="lost")

    reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe")
    for _ in range(2):
        with pytest.raises(PuppyNotAvailable):
            reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="paypal")

    assert _value("kennel_reservation_holds_total", outcome="won") == won + 1
    assert _value("kennel_reservation_holds_total", outcome="lost") == lost + 2


def _always_fails(effect: SideEffect) -> None:
    raise DeliveryFailed("the endpoint is down")


def _refused(effect: SideEffect) -> None:
    raise DeliveryRefused("the endpoint said no")


@pytest.fixture
def test_kinds() -> Iterator[None]:
    """Three kinds of work of this test's own: one that works, one retried, one refused."""
    kinds = {"metrics_ok": lambda effect: None, "metrics_down": _always_fails}
    kinds["metrics_refused"] = _refused
    for kind, run in kinds.items():
        outbox.register(kind, label=kind, run=run)
    try:
        yield
    finally:
        for kind in kinds:
            outbox._handlers.pop(kind, None)


def _run(kind: str) -> str:
    with transaction.atomic():
        (effect,) = outbox_enqueue(kinds=[kind], key="metrics-test", recipient="someone")
    return side_effect_run(side_effect_id=effect.pk)


@pytest.mark.django_db
@pytest.mark.usefixtures("test_kinds")
def test_side_effects_sent_retried_and_dead_are_counted_by_kind():
    def counts() -> tuple[float, float, float]:
        return (
            _value("kennel_side_effect_runs_total", kind="metrics_ok", outcome="sent"),
            _value("kennel_side_effect_runs_total", kind="metrics_down", outcome="retry"),
            _value("kennel_side_effect_runs_total", kind="metrics_refused", outcome="dead"),
        )

    before = counts()
    outcomes = [_run("metrics_ok"), _run("metrics_down"), _run("metrics_refused")]

    assert outcomes == ["sent", "pending", "dead"]
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert _value("kennel_side_effect_runs_total", kind="metrics_ok", outcome="dead") == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("test_kinds")
def test_background_work_by_state_is_read_from_the_database_at_scrape_time(client):
    _run("metrics_ok")
    _run("metrics_refused")

    families = _families(client.get("/metrics").content.decode())

    work = families["kennel_side_effects"]
    assert work[("kennel_side_effects", (("kind", "metrics_ok"), ("state", "sent")))] == 1
    assert work[("kennel_side_effects", (("kind", "metrics_refused"), ("state", "dead")))] == 1
    assert work[("kennel_side_effects", (("kind", "metrics_ok"), ("state", "pending")))] == 0


@pytest.mark.django_db
def test_a_4xx_answer_is_counted_not_logged(client, caplog):
    """A flash sale's hundreds of 409s (or a scanner's 404s) must not bury the log."""
    taken = PuppyFactory(status=Puppy.Status.RESERVED)
    labels = {"route": "api:create_reservation", "method": "POST", "status": "409"}
    before = _value("kennel_http_request_duration_seconds_count", **labels)
    buyer = {
        "puppy": taken.slug,
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": "+33 6 12 34 56 78",
        "provider": "stripe",
        "accept_terms": True,
    }
    with caplog.at_level("INFO"):
        assert client.post("/api/reservations/", buyer, "application/json").status_code == 409
        assert client.get("/no-such-page/").status_code == 404
    assert not [r for r in caplog.records if r.name == "django.request"], caplog.text
    assert _value("kennel_http_request_duration_seconds_count", **labels) == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_stripe_checkout_adds_no_line_of_the_sdks_own_to_the_log(live_server, sandbox, caplog):
    """The stripe SDK says "Request to Stripe api" and "Stripe API response" at INFO for every
    call: two lines per hold, refund and webhook, burying the shop's own."""
    puppy = PuppyFactory()

    with caplog.at_level("INFO"):
        answer = reserve(live_server.url, puppy.slug)

    assert answer.status_code == 201, answer.text
    assert len(sandbox.stripe.state.sessions) == 1  # the SDK did call Stripe (the sandbox)
    assert not [r for r in caplog.records if r.name.startswith("stripe")], caplog.text


def _requests(route: str, method: str, status: str) -> float:
    return _value(
        "kennel_http_request_duration_seconds_count", route=route, method=method, status=status
    )


@pytest.mark.django_db
def test_a_webhook_address_without_its_slash_is_counted_under_the_webhook_route(client):
    """Tried: PayPal told `/webhooks/paypal` (no slash; answered there, not redirected) got
    the label `kennel.payments.views.webhook`, beside `payments:webhook` for the same
    deliveries with the slash: a dashboard on the route saw half of them."""
    before = _requests("payments:webhook", "POST", "400")

    for path in ("/webhooks/paypal/", "/webhooks/paypal"):
        assert client.post(path, b"{}", "application/json").status_code == 400

    assert _requests("payments:webhook", "POST", "400") == before + 2
    assert _requests("kennel.payments.views.webhook", "POST", "400") == 0
    # The address the shop gives (README, the sandbox) is still the slash's.
    assert reverse("payments:webhook", args=["paypal"]) == "/webhooks/paypal/"


@pytest.mark.django_db
def test_a_page_asked_without_its_slash_is_counted_under_its_route(client):
    """Django redirects `/health/webhooks` to `/health/webhooks/`: that 301 is counted under
    the page it leads to, not among the 404s of `unmatched`."""
    before = _requests("monitoring:health_webhooks", "GET", "301")
    unmatched = _requests("unmatched", "GET", "301")

    answer = client.get("/health/webhooks")

    assert answer.status_code == 301
    assert answer["Location"] == "/health/webhooks/"
    assert _requests("monitoring:health_webhooks", "GET", "301") == before + 1
    assert _requests("unmatched", "GET", "301") == unmatched
    assert client.get("/no-such-page").status_code == 404  # nothing to lead to: unmatched
