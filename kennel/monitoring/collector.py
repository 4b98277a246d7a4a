"""Gauges read from the database when /metrics is scraped: what is true now, whichever process
did it. A few GROUP BY queries per scrape, none per request. An unreachable database leaves
them out and says so with `kennel_database_up 0`: the scrape itself still answers."""

import logging
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kennel.core.db import close_broken_connection, is_postgres
from kennel.core.models import SideEffect
from kennel.payments.models import WebhookEvent
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)
# A scrape must not wait on a database that is alive but stuck (PostgreSQL only).
STATEMENT_TIMEOUT_MS = 2000


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: list[GaugeMetricFamily] = []
        try:
            families = _read()
        except Exception as exc:
            # One line a scrape (every 15 s or so) while the database is down, not a traceback.
            # psycopg's reason spans lines ("…refused\n\tIs the server running…"): one line.
            reason = " ".join(str(exc).split())
            log.warning(
                "metrics: the database could not be read: %s: %s", type(exc).__name__, reason
            )
            close_broken_connection()
        up = GaugeMetricFamily(
            "kennel_database_up", "1 when the database answered this scrape, else 0."
        )
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families


def _read() -> list[GaugeMetricFamily]:
    reservations = GaugeMetricFamily(
        "kennel_reservations", "Reservations by status, now.", labels=["status"]
    )
    side_effects = GaugeMetricFamily(
        "kennel_side_effects", "Background work by kind and state, now.", labels=["kind", "state"]
    )
    webhooks = GaugeMetricFamily(
        "kennel_webhook_events",
        "Stored webhook events by provider and status, now.",
        labels=["provider", "status"],
    )
    with transaction.atomic():
        if is_postgres():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        by_status = dict(
            Reservation.objects.order_by().values_list("status").annotate(n=Count("pk"))
        )
        for status in Reservation.Status.values:  # zeros too: a series never vanishes
            reservations.add_metric([status], by_status.get(status, 0))
        work = {
            (kind, state): n
            for kind, state, n in SideEffect.objects.order_by()
            .values_list("kind", "status")
            .annotate(n=Count("pk"))
        }
        for kind in sorted({kind for kind, _ in work}):
            for state in SideEffect.Status.values:
                side_effects.add_metric([kind, state], work.get((kind, state), 0))
        events = {
            (provider, status): n
            for provider, status, n in WebhookEvent.objects.order_by()
            .values_list("provider", "status")
            .annotate(n=Count("pk"))
        }
        for provider in Reservation.Provider.values:
            for status in WebhookEvent.Status.values:
                webhooks.add_metric([provider, status], events.get((provider, status), 0))
    return [reservations, side_effects, webhooks]
