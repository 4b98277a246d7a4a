"""Reading a checkout back from Stripe (what every paid checkout's webhook job does): the
session and its payment intent as the API has them, and the API's refusals and outages told
apart, so that the job gives up or retries."""

import pytest

from kennel.payments.providers import ProviderError, ProviderUnavailable
from kennel.payments.stripe import client
from tests.factories import PuppyFactory
from tests.payments.stripe_helpers import choose, reserve

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_paid_checkout_is_read_back_with_its_payment_intent(sandbox, live_server):
    body = reserve(live_server.url, PuppyFactory().slug).json()
    choose(body["checkout_url"], "pay")

    session = client.retrieve_checkout_session(body["provider_reference"])

    assert session["id"] == body["provider_reference"]
    assert session["payment_status"] == "paid"
    assert session["metadata"]["reservation_id"] == body["id"]
    intent = session["payment_intent"]
    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == session["amount_total"] > 0


def test_a_checkout_stripe_does_not_know_is_an_error_not_an_outage(sandbox):
    with pytest.raises(ProviderError) as refused:
        client.retrieve_checkout_session("cs_test_nobody/../../v1/balance")

    assert not isinstance(refused.value, ProviderUnavailable)
    assert refused.value.status == 404


def test_stripe_out_of_reach_is_an_outage_to_retry(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_kennel"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard: nothing listens
    settings.PROVIDER_TIMEOUT_SECONDS = 1

    with pytest.raises(ProviderUnavailable):
        client.retrieve_checkout_session("cs_test_any")
