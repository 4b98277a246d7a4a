"""/metrics counts what every web worker did: a real granian with two workers (as `serve`
runs it) shares one multiprocess directory, and a scrape answered by either worker sums them."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import PuppyFactory
from tests.payments.test_stripe_webhooks import event, sign
from tests.resilience.servers import kennel_env, own_process_database_url, web_server

pytestmark = pytest.mark.django_db(transaction=True)
WEBHOOK_SECRET = "whsec_metrics_test"
REQUESTS_AT_MOST = 400  # a bound on the loop that waits for both workers to serve a page
EVENTS = 7


def _signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = event(event_id=event_id)
    return body, {"Stripe-Signature": sign(body, secret=WEBHOOK_SECRET)}


def _index_pages_by_worker(directory: Path) -> dict[str, float]:
    """The catalogue pages each worker process has counted so far (its own file)."""
    served = {}
    for path in directory.glob("histogram_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            served[path.stem] = sum(
                s.value
                for s in family.samples
                if s.name == "kennel_http_request_duration_seconds_count"
                and s.labels.get("route") == "catalogue:index"
            )
    return served


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_sums_the_requests_and_webhooks_of_two_web_workers(tmp_path):
    PuppyFactory()
    directory = tmp_path / "prometheus"
    env = kennel_env(
        own_process_database_url(),
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    with web_server(env, workers=2) as url, ThreadPoolExecutor(8) as pool:
        # Pages on fresh connections, eight at a time, until both workers have served some.
        pages = 0
        while pages < REQUESTS_AT_MOST:
            answers = list(pool.map(lambda _: httpx.get(f"{url}/").status_code, range(16)))
            assert answers == [200] * 16
            pages += 16
            if sum(1 for n in _index_pages_by_worker(directory).values() if n) >= 2:
                break
        by_worker = _index_pages_by_worker(directory)
        assert sum(1 for n in by_worker.values() if n) == 2, by_worker

        deliveries = [_signed(f"evt_metrics_{i}") for i in range(EVENTS)]
        answers = list(
            pool.map(
                lambda d: httpx.post(f"{url}/webhooks/stripe/", content=d[0], headers=d[1]),
                deliveries,
            )
        )
        assert [a.status_code for a in answers] == [200] * EVENTS
        duplicate = httpx.post(
            f"{url}/webhooks/stripe/", content=deliveries[0][0], headers=deliveries[0][1]
        )
        unsigned = httpx.post(f"{url}/webhooks/stripe/", content=deliveries[1][0])
        assert (duplicate.status_code, unsigned.status_code) == (200, 400)

        scrape = httpx.get(f"{url}/metrics")
        head = httpx.head(f"{url}/metrics")

    assert scrape.status_code == head.status_code == 200
    assert head.headers["Content-Type"] == scrape.headers["Content-Type"]
    assert head.content == b""
    samples = _samples(scrape.text)
    index = (("method", "GET"), ("route", "catalogue:index"), ("status", "200"))
    assert samples[("kennel_http_request_duration_seconds_count", index)] == pages
    every = tuple(sorted((*index, ("le", "+Inf"))))
    assert samples[("kennel_http_request_duration_seconds_bucket", every)] == pages

    def deliveries_counted(event_type: str, outcome: str) -> float:
        labels = (("outcome", outcome), ("provider", "stripe"), ("type", event_type))
        return samples.get(("kennel_webhook_deliveries_total", labels), 0)

    assert deliveries_counted("customer.created", "stored") == EVENTS
    assert deliveries_counted("customer.created", "duplicate") == 1
    assert deliveries_counted("unknown", "rejected:missing_signature") == 1
    assert samples[("kennel_database_up", ())] == 1
    # customer.created is a type the shop never acts on: stored as ignored at once.
    stored = (("provider", "stripe"), ("status", "ignored"))
    assert samples[("kennel_webhook_events", stored)] == EVENTS
