"""The go-live guard: in live mode Kennel refuses to start on an unsafe configuration.

Each problem is a system check ERROR naming its setting, so `python -m kennel check`,
`serve`, `worker`, `migrate` (every command that runs the checks) list them all at once and
stop. A WSGI server runs no checks: kennel/wsgi.py calls `refuse_unsafe_live_start()`, so
granian refuses too. Sandbox mode has no guard (zero setup: nothing real can be paid).
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured
from django.http.request import validate_host

TAG = "kennel_live"
DEMO_BREEDER_NAME = "Kennel demo breeder"
# Email backends with which no email ever leaves the machine.
SILENT_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "the console",
    "django.core.mail.backends.locmem.EmailBackend": "memory",
    "django.core.mail.backends.dummy.EmailBackend": "nowhere",
}


def _error(number: int, setting: str, problem: str, hint: str | None = None) -> checks.Error:
    return checks.Error(f"{setting} {problem}", hint=hint, id=f"kennel.E{number:03d}")


def live_settings_problems() -> list[checks.Error]:
    """Every setting that makes a live shop unsafe or unable to serve buyers, each named."""
    s: Any = settings
    errors: list[checks.Error] = []

    def missing(number: int, name: str, why: str) -> None:
        if not getattr(s, name, ""):
            errors.append(_error(number, name, f"is not set: {why}."))

    missing(1, "STRIPE_SECRET_KEY", "Stripe is offered to buyers and needs its secret key")
    missing(2, "STRIPE_WEBHOOK_SECRET", "Stripe's webhooks cannot be verified without it")
    if s.PAYPAL_CLIENT_ID or s.PAYPAL_CLIENT_SECRET:  # PayPal is offered (or half set up)
        missing(3, "PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET is set, so PayPal needs both")
        missing(4, "PAYPAL_CLIENT_SECRET", "PAYPAL_CLIENT_ID is set, so PayPal needs both")
        missing(5, "PAYPAL_WEBHOOK_ID", "PayPal's webhooks cannot be verified without it")
    for number, name in ((6, "STRIPE_API_BASE"), (7, "PAYPAL_API_BASE")):
        base = getattr(s, name)
        if base and urlsplit(base).scheme != "https":
            errors.append(_error(number, name, f"is {base!r}: a live provider API is https."))

    backend = s.EMAIL_BACKEND
    if backend in SILENT_EMAIL_BACKENDS:
        errors.append(
            _error(
                10,
                "EMAIL_URL",
                f"sends email to {SILENT_EMAIL_BACKENDS[backend]}: buyers and owner get none.",
                hint="EMAIL_URL=smtp+tls://user:password@smtp.example.com:587",
            )
        )
    missing(11, "OWNER_EMAIL", "the owner would never hear of a deposit")
    if not s.BREEDER_NAME or s.BREEDER_NAME == DEMO_BREEDER_NAME:
        errors.append(_error(12, "BREEDER_NAME", "is not set: buyers would see the demo name."))
    missing(13, "BREEDER_EMAIL", "buyers need an address to write to")
    if "@localhost" in s.DEFAULT_FROM_EMAIL:
        errors.append(
            _error(14, "DEFAULT_FROM_EMAIL", "is a @localhost address: mail would bounce.")
        )

    key = s.SECRET_KEY
    if key == s.SANDBOX_SECRET_KEY:
        errors.append(_error(20, "SECRET_KEY", "is not set (the built-in sandbox key is public)."))
    elif (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        errors.append(
            _error(
                21,
                "SECRET_KEY",
                f"is weak: use at least {SECRET_KEY_MIN_LENGTH} random characters.",
                hint='python -c "import secrets; print(secrets.token_urlsafe(50))"',
            )
        )
    if s.DEBUG:
        errors.append(_error(22, "DEBUG", "is true: tracebacks and settings would be public."))
    if urlsplit(s.SITE_URL).scheme != "https":
        errors.append(
            _error(23, "SITE_URL", f"is {s.SITE_URL!r}: a live shop is served over https.")
        )
    host = urlsplit(s.SITE_URL).hostname or ""
    if not s.ALLOWED_HOSTS:
        errors.append(_error(24, "ALLOWED_HOSTS", "is empty: every request would answer 400."))
    elif not validate_host(host, s.ALLOWED_HOSTS):
        errors.append(
            _error(
                25,
                "ALLOWED_HOSTS",
                f"does not allow SITE_URL's host {host!r}: buyers, and the providers' "
                "webhooks, would be answered 400.",
            )
        )
    return errors


@checks.register(TAG)
def go_live_guard(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.Error]:
    """ERRORs for every unsafe live setting (none in sandbox mode)."""
    if settings.PAYMENTS_MODE != "live":
        return []
    return live_settings_problems()


def refuse_unsafe_live_start() -> None:
    """For processes that run no system checks (the WSGI app): raise with every problem."""
    errors = go_live_guard()
    if errors:
        lines = "\n".join(f"  {e.id}: {e.msg}" for e in errors)
        raise ImproperlyConfigured(
            f"Kennel refuses to start in live mode (PAYMENTS_MODE=live):\n{lines}"
        )
