"""Which side-effect integrations are on, for the worker's start-up log and a health page."""

import logging
from typing import Any

from django.conf import settings

from kennel.analytics.ga4 import ga4_config
from kennel.analytics.meta import meta_config

_EMAIL_BACKENDS = {
    "django.core.mail.backends.smtp.EmailBackend": "smtp",
    "django.core.mail.backends.filebased.EmailBackend": "file",
    "django.core.mail.backends.console.EmailBackend": "console",
    "django.core.mail.backends.locmem.EmailBackend": "memory",
    "django.core.mail.backends.dummy.EmailBackend": "dummy",
}


def integrations_status() -> dict[str, dict[str, Any]]:
    """Each integration: on or off, and in a few words why (no secrets in it)."""
    backend = _EMAIL_BACKENDS.get(settings.EMAIL_BACKEND, settings.EMAIL_BACKEND)
    email_detail = {
        "smtp": f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}",
        "file": f"written to files in {getattr(settings, 'EMAIL_FILE_PATH', '?')}",
        "console": "printed by the worker, not delivered (EMAIL_URL=consolemail://)",
    }.get(backend, backend)
    owner = settings.OWNER_EMAIL.strip()
    ga4, meta = ga4_config(), meta_config()
    return {
        "buyer_email": {"enabled": True, "detail": email_detail},
        "owner_email": {
            "enabled": bool(owner),
            "detail": f"to {owner}" if owner else "off: OWNER_EMAIL is not set",
        },
        "ga4": {
            "enabled": ga4 is not None,
            "detail": (
                f"measurement id {ga4.measurement_id} at {ga4.endpoint}"
                + (" (validated first)" if ga4.validate else "")
                if ga4
                else _off("GA4_MEASUREMENT_ID", "GA4_API_SECRET")
            ),
        },
        "meta": {
            "enabled": meta is not None,
            "detail": (
                f"pixel {meta.pixel_id} at {meta.events_url}"
                + (f" (test events: {meta.test_event_code})" if meta.test_event_code else "")
                if meta
                else _off("META_PIXEL_ID", "META_ACCESS_TOKEN")
            ),
        },
    }


def integrations_log(logger: logging.Logger) -> None:
    """One line per integration, at start: an operator sees at once what is off."""
    for name, state in integrations_status().items():
        level = logging.INFO if state["enabled"] else logging.WARNING
        logger.log(level, "%s: %s", name.replace("_", " "), state["detail"])


def _off(*names: str) -> str:
    """Why an integration that needs every one of `names` is off: those not set (tried: one
    set, the page said both were missing)."""
    missing = [name for name in names if not str(getattr(settings, name, "")).strip()]
    if len(missing) == len(names):
        return f"off: {' and '.join(names)} are not set"
    return f"off: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
