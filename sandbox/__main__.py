"""``python -m sandbox`` (from the repository root): run the payment sandbox in the foreground.

Settings come from flags, falling back to the environment the rest of Kennel uses:
``SANDBOX_PORT`` (8111), ``SANDBOX_STRIPE_WEBHOOK_URL`` and ``SANDBOX_PAYPAL_WEBHOOK_URL``
(else the app's ``http://127.0.0.1:$PORT/webhooks/stripe/`` and ``.../webhooks/paypal/``,
``PORT`` 8000), ``STRIPE_WEBHOOK_SECRET``, ``PAYPAL_WEBHOOK_ID``, ``PAYPAL_CLIENT_ID`` and
``PAYPAL_CLIENT_SECRET`` (else the same sandbox placeholders as Kennel's settings), and
``SANDBOX_STATE_FILE`` (else ``var/sandbox-state.json``, relative to the current directory).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from sandbox.app import (
    DEFAULT_PAYPAL_CLIENT_ID,
    DEFAULT_PAYPAL_CLIENT_SECRET,
    DEFAULT_PAYPAL_WEBHOOK_ID,
    DEFAULT_STRIPE_WEBHOOK_SECRET,
    Sandbox,
    SandboxConfig,
)
from sandbox.persistence import StateFileError

log = logging.getLogger("sandbox")
#: Where ``python -m sandbox`` keeps its state unless told otherwise.
DEFAULT_STATE_FILE = "var/sandbox-state.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Offline Stripe and PayPal sandbox for Kennel (no network; not them).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SANDBOX_PORT") or 8111),
        help="port to listen on (env SANDBOX_PORT, default 8111)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL browsers use to reach the sandbox (default http://HOST:PORT)",
    )
    app_port = os.environ.get("PORT") or "8000"
    parser.add_argument(
        "--stripe-webhook-url",
        default=os.environ.get("SANDBOX_STRIPE_WEBHOOK_URL")
        or f"http://127.0.0.1:{app_port}/webhooks/stripe/",
        help="where Stripe events are POSTed; 'none' to only record them",
    )
    parser.add_argument(
        "--paypal-webhook-url",
        default=os.environ.get("SANDBOX_PAYPAL_WEBHOOK_URL")
        or f"http://127.0.0.1:{app_port}/webhooks/paypal/",
        help="where PayPal events are POSTed; 'none' to only record them",
    )
    parser.add_argument(
        "--paypal-webhook-id",
        default=os.environ.get("PAYPAL_WEBHOOK_ID") or DEFAULT_PAYPAL_WEBHOOK_ID,
        help="the webhook id PayPal events are signed for (env PAYPAL_WEBHOOK_ID)",
    )
    parser.add_argument(
        "--state-file",
        default=os.environ.get("SANDBOX_STATE_FILE") or DEFAULT_STATE_FILE,
        help="where payments, events and the PayPal signing key are kept across restarts, "
        "relative to the current directory (env SANDBOX_STATE_FILE, default "
        f"{DEFAULT_STATE_FILE}); 'none' to keep them in memory only",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s sandbox %(message)s",
    )
    # Never log the secret itself; the webhook signature header is not logged anywhere either.
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or DEFAULT_STRIPE_WEBHOOK_SECRET
    webhook_url = None if args.stripe_webhook_url.lower() == "none" else args.stripe_webhook_url
    paypal_url = None if args.paypal_webhook_url.lower() == "none" else args.paypal_webhook_url
    config = SandboxConfig(
        public_url=args.public_url,  # None: the server's own URL once bound
        stripe_webhook_url=webhook_url,
        stripe_webhook_secret=secret,
        paypal_webhook_url=paypal_url,
        paypal_webhook_id=args.paypal_webhook_id,
        paypal_client_id=os.environ.get("PAYPAL_CLIENT_ID") or DEFAULT_PAYPAL_CLIENT_ID,
        paypal_client_secret=os.environ.get("PAYPAL_CLIENT_SECRET") or DEFAULT_PAYPAL_CLIENT_SECRET,
        state_path=None if args.state_file.lower() == "none" else args.state_file,
    )
    try:
        sandbox = Sandbox(config)
    except (StateFileError, OSError) as exc:
        log.error("cannot use the state file: %s", exc)
        return 1
    if threading.current_thread() is threading.main_thread():
        # `make run` stops its children with SIGTERM; leave as cleanly as on Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
    log.info(
        "Stripe webhooks -> %s (secret from %s)",
        webhook_url or "not delivered",
        "STRIPE_WEBHOOK_SECRET" if os.environ.get("STRIPE_WEBHOOK_SECRET") else "built-in default",
    )
    log.info(
        "PayPal webhooks -> %s (webhook id %s, certificate %s)",
        paypal_url or "not delivered",
        args.paypal_webhook_id,
        sandbox.paypal.signer.cert_id,
    )
    log.info("state kept in %s", config.state_path or "memory only (forgotten on stop)")
    try:
        sandbox.serve_forever(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.close()
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
