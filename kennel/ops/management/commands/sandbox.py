import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the offline Stripe/PayPal payment sandbox (used when PAYMENTS_MODE=sandbox)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.SANDBOX_PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--state-file",
            default=None,
            help="where it keeps its payments across restarts (default: SANDBOX_STATE_FILE, "
            "else var/sandbox-state.json in the current directory)",
        )

    def handle(
        self, *args: Any, port: int, host: str, state_file: str | None, **options: Any
    ) -> None:
        try:
            # A top-level package of the checkout, never in the wheel: importable from the
            # repository root (`python -m kennel` puts the current directory on sys.path).
            from sandbox.__main__ import main
        except ImportError as exc:
            raise CommandError(
                "The payment sandbox is not installed: run this from the repository root."
            ) from exc

        argv = ["--host", host, "--port", str(port), "--public-url", settings.SANDBOX_URL]
        argv += ["--stripe-webhook-url", f"{settings.SITE_URL}/webhooks/stripe/"]
        argv += ["--paypal-webhook-url", f"{settings.SITE_URL}/webhooks/paypal/"]
        if settings.PAYPAL_WEBHOOK_ID:
            argv += ["--paypal-webhook-id", settings.PAYPAL_WEBHOOK_ID]
        # The sandbox accepts exactly the REST app credentials the shop uses (in sandbox mode
        # these are placeholders, possibly only in settings): hand them over in its env.
        for name in ("PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET"):
            if getattr(settings, name):
                os.environ[name] = getattr(settings, name)
        if state_file:
            argv += ["--state-file", state_file]
        raise SystemExit(main(argv))
