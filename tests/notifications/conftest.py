"""Fixtures of the outbox tests: a real SMTP server, GA4/Meta stand-ins, an owner address."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.notifications.servers import Endpoint

OWNER = "owner@kennel.example"


@pytest.fixture
def owner(settings: Any) -> str:
    settings.OWNER_EMAIL = OWNER
    settings.BREEDER_NAME = "Maple Hill Goldens"
    settings.BREEDER_EMAIL = "hello@maplehill.example"
    settings.BREEDER_PHONE = "+33 6 00 00 00 00"
    settings.DEFAULT_FROM_EMAIL = "Maple Hill <shop@maplehill.example>"
    return OWNER


@pytest.fixture
def shop_site(settings: Any) -> str:
    """The public address links in emails start with (not for tests with a live server)."""
    settings.SITE_URL = "https://shop.example"
    return settings.SITE_URL


@pytest.fixture
def ga4_endpoint(settings: Any) -> Iterator[Endpoint]:
    server = Endpoint().start()
    settings.GA4_MEASUREMENT_ID = "G-TEST12345"
    settings.GA4_API_SECRET = "ga4-test-secret"
    settings.GA4_ENDPOINT = f"{server.url}/mp/collect"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def meta_endpoint(settings: Any) -> Iterator[Endpoint]:
    server = Endpoint(answer=lambda path, body: (200, {"events_received": 1, "messages": []}))
    server.start()
    settings.META_PIXEL_ID = "1234567890123"
    settings.META_ACCESS_TOKEN = "meta-test-token"
    settings.META_ENDPOINT = server.url
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fast_retries(settings: Any) -> None:
    settings.SIDE_EFFECT_MAX_ATTEMPTS = 3
    settings.SIDE_EFFECT_RETRY_BASE_SECONDS = 0.02
    settings.SIDE_EFFECT_RETRY_MAX_SECONDS = 0.1
    settings.ANALYTICS_TIMEOUT_SECONDS = 0.5
