# The GA4/Meta stand-ins and the owner settings are shared with the outbox tests.
from tests.notifications.conftest import fast_retries, ga4_endpoint, meta_endpoint, owner

__all__ = ["fast_retries", "ga4_endpoint", "meta_endpoint", "owner"]
