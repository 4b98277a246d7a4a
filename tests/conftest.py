import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.utils import translation

from kennel.reservations.buyers import Buyer
from sandbox import Sandbox, SandboxConfig
from tests.factories import PuppyFactory
from tests.notifications.servers import SmtpSink

# The live test server stands in for granian: let it queue as many simultaneous connections
# as the race tests open (socketserver's default backlog is 5; connections beyond it reset).
ThreadedWSGIServer.request_queue_size = 128


@pytest.fixture(autouse=True)
def _no_hold_limits(settings: Any) -> None:
    """Every buyer of the suite comes from 127.0.0.1, many with one email, and reserves again
    at once: the hold limits are off unless a test turns them on (tests/reservations/
    test_hold_limits.py)."""
    settings.HOLDS_PER_EMAIL = 0
    settings.HOLDS_PER_CLIENT = 0
    settings.HOLD_RATE = "0"
    settings.HOLD_COOLDOWN_SECONDS = 0


@pytest.fixture(autouse=True)
def _static_under_their_own_names(settings: Any) -> None:
    """The suite's live server serves static files from the source (the finders), which know
    no hashed name: pages name them as they are, whatever a `make run` left in var/static/.
    The hashed names are tested on the production stack (tests/ops/test_static_files.py)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _language_of_the_test_only() -> Iterator[None]:
    """A request through the test client leaves its language active in the thread (Django's
    LocaleMiddleware activates it and nothing deactivates it): a French page's test would make
    the next test's back-office words French. Each test starts from the shop's language."""
    yield
    translation.deactivate()


@pytest.fixture
def buyer() -> Buyer:
    return Buyer(name="Jane Doe", email="jane.doe@example.com", phone="+33 6 12 34 56 78")


@pytest.fixture
def puppy(db: None) -> Any:
    return PuppyFactory()


def run_in_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Start `count` threads that call target(i) at the same moment; return results/exceptions.

    Each thread uses (and closes) its own database connection, as a web process would.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung: deadlock?"
    return results


@pytest.fixture
def threads() -> Callable[[int, Callable[[int], Any]], list[Any]]:
    return run_in_threads


SANDBOX_WEBHOOK_SECRET = "whsec_kennel_test_secret"
PAYPAL_CLIENT_ID = "kennel-test-client"
PAYPAL_CLIENT_SECRET = "kennel-test-secret"
PAYPAL_WEBHOOK_ID = "WH-KENNEL-TEST-0001"


@pytest.fixture
def sandbox(live_server: Any, settings: Any) -> Iterator[Any]:
    """The offline Stripe/PayPal sandbox in a thread, wired to a live Kennel server.

    The real SDKs talk to it by base URL; its webhooks are signed and POSTed to the live app.
    """
    with sandbox_for(live_server, settings) as sb:
        yield sb


@contextmanager
def sandbox_for(live_server: Any, settings: Any, **config: Any) -> Iterator[Any]:
    """A sandbox wired to `live_server` (and the settings pointed at it); `config` overrides
    SandboxConfig's test values (e.g. more patient webhook retries)."""
    sb = Sandbox(
        SandboxConfig(
            **{
                "public_url": None,
                "stripe_webhook_url": f"{live_server.url}/webhooks/stripe/",
                "stripe_webhook_secret": SANDBOX_WEBHOOK_SECRET,
                "paypal_webhook_url": f"{live_server.url}/webhooks/paypal/",
                "paypal_webhook_id": PAYPAL_WEBHOOK_ID,
                "paypal_client_id": PAYPAL_CLIENT_ID,
                "paypal_client_secret": PAYPAL_CLIENT_SECRET,
                "retry_base_delay": 0.05,
                "max_attempts": 5,
                "async_settle_delay": 0.05,
                **config,
            }
        )
    )
    server = sb.serve_in_thread(host="127.0.0.1", port=0)
    settings.PAYMENTS_MODE = "sandbox"
    settings.SITE_URL = live_server.url
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_SECRET_KEY = "sk_test_kennel"
    settings.STRIPE_WEBHOOK_SECRET = SANDBOX_WEBHOOK_SECRET
    settings.PAYPAL_API_BASE = server.url
    settings.PAYPAL_CLIENT_ID = PAYPAL_CLIENT_ID
    settings.PAYPAL_CLIENT_SECRET = PAYPAL_CLIENT_SECRET
    settings.PAYPAL_WEBHOOK_ID = PAYPAL_WEBHOOK_ID
    settings.PAYPAL_WEBHOOK_VERIFICATION = "offline"
    try:
        yield sb
    finally:
        sb.switches.hold_webhooks = False
        sb.wait_for_deliveries(timeout=10)
        sb.close()


def run_worker_once() -> None:
    """What the worker process does in one pass: the sweeps, then every queued task."""
    from django.core.management import call_command

    call_command("worker", "--batch", verbosity=0)


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpSink]:
    """A real SMTP server; Django's SMTP backend is pointed at it."""
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield sink
    finally:
        sink.stop()


@contextmanager
def unreachable_database() -> Iterator[None]:
    """This process's database connection points nowhere for the block (a refused port on
    PostgreSQL, a missing file on SQLite), then is restored."""
    from django.db import connections

    db = connections["default"]
    saved = dict(db.settings_dict)
    db.close()
    db.settings_dict.update(
        {"HOST": "127.0.0.1", "PORT": "1", "NAME": "nowhere"}
        if db.vendor == "postgresql"
        else {"NAME": "/nonexistent/dir/kennel.sqlite3"}
    )
    try:
        yield
    finally:
        db.close()
        db.settings_dict.clear()
        db.settings_dict.update(saved)
