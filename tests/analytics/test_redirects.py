"""An analytics endpoint that answers with a redirect has received nothing (the conversion is
not followed there): the report is given up at once, not counted as sent, and Background work
says which setting to correct, without the redirect's target (it may carry GA4's api_secret)."""

import pytest
from django.urls import reverse

from kennel.core.models import SideEffect
from kennel.reservations.effects import Effect
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm, drain, hold

pytestmark = pytest.mark.django_db(transaction=True)
K = Effect
GOOGLE = "https://www.google-analytics.com/mp/collect?measurement_id=G-TEST12345"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_ga4_endpoint_that_redirects_is_given_up_at_once_naming_the_setting(
    owner, ga4_endpoint, status, admin_client
):
    ga4_endpoint.answer = lambda path, body: (status, {})
    ga4_endpoint.headers = {"Location": f"{GOOGLE}&api_secret=ga4-test-secret"}
    confirm(hold(PuppyFactory()))

    drain()

    report = SideEffect.objects.get(kind=K.GA4_PURCHASE)
    assert (report.status, report.attempts, report.sent_at) == ("dead", 1, None)
    assert len(ga4_endpoint.hits) == 1  # asked once, never again
    assert f"HTTP {status}" in report.last_error
    assert "GA4_ENDPOINT" in report.last_error
    page = admin_client.get(
        reverse("admin:core_sideeffect_change", args=[report.pk])
    ).content.decode()
    assert "GA4_ENDPOINT" in page
    for leaked in ["ga4-test-secret", "google-analytics.com", "api_secret"]:
        assert leaked not in report.last_error
        assert leaked not in page


def test_a_meta_endpoint_that_redirects_is_given_up_at_once_naming_the_setting(
    owner, meta_endpoint
):
    meta_endpoint.answer = lambda path, body: (302, {})
    meta_endpoint.headers = {"Location": "https://graph.facebook.com/v21.0/1/events?token=t0k"}
    confirm(hold(PuppyFactory()))

    drain()

    report = SideEffect.objects.get(kind=K.META_PURCHASE)
    assert (report.status, report.attempts, report.sent_at) == ("dead", 1, None)
    assert "HTTP 302" in report.last_error
    assert "META_ENDPOINT" in report.last_error
    assert "graph.facebook.com" not in report.last_error
