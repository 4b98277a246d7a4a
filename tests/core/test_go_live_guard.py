"""In live mode Kennel refuses to start on unsafe settings, naming each one; with the
documented production settings (.env.production.example) it starts and `check --deploy` is clean.

Each case is a real `python -m kennel …` (or the WSGI module granian imports) in a subprocess
with an environment of its own: settings are read once per process.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_EXAMPLE = ROOT / ".env.production.example"
# What the operator fills in: the example leaves every secret empty.
SECRETS = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "EMAIL_URL": "smtp+tls://shop:password@smtp.example.com:587",
    "STRIPE_SECRET_KEY": "sk_live_kennel_test",
    "STRIPE_WEBHOOK_SECRET": "whsec_kennel_test",
    "PAYPAL_CLIENT_ID": "kennel-live-client",
    "PAYPAL_CLIENT_SECRET": "kennel-live-secret",
    "PAYPAL_WEBHOOK_ID": "WH-KENNEL-LIVE",
}


def documented_settings() -> dict[str, str]:
    values = {}
    for line in PRODUCTION_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def production(**changes: str | None) -> dict[str, str]:
    values = {**documented_settings(), **SECRETS}
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return values


def kennel(
    *args: str, settings: dict[str, str], tmp_path: Path, module: str = "kennel"
) -> subprocess.CompletedProcess[str]:
    # Only the system's basics are inherited: no setting may leak in from the test run.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path}/guard.sqlite3", **settings}
    command = [sys.executable, "-m", module, *args] if args else [sys.executable, "-c", module]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_documented_production_settings_pass_the_guard_and_check_deploy(tmp_path):
    result = kennel(
        "check", "--deploy", "--fail-level", "WARNING", settings=production(), tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_example_as_shipped_names_the_secrets_still_to_fill_in(tmp_path):
    result = kennel("check", settings=documented_settings(), tmp_path=tmp_path)
    assert result.returncode != 0
    for name in ("SECRET_KEY", "EMAIL_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert name in result.stderr
    assert "PAYPAL" not in result.stderr  # PayPal left out entirely: Stripe only, fine


UNSAFE = {
    "STRIPE_SECRET_KEY": {"STRIPE_SECRET_KEY": None},
    "STRIPE_WEBHOOK_SECRET": {"STRIPE_WEBHOOK_SECRET": ""},
    "PAYPAL_WEBHOOK_ID": {"PAYPAL_WEBHOOK_ID": None},
    "PAYPAL_CLIENT_SECRET": {"PAYPAL_CLIENT_SECRET": ""},
    "EMAIL_URL": {"EMAIL_URL": "consolemail://"},
    "EMAIL_URL ": {"EMAIL_URL": None},  # absent: the console too
    "OWNER_EMAIL": {"OWNER_EMAIL": None},
    "BREEDER_NAME": {"BREEDER_NAME": None},  # the demo default
    "BREEDER_NAME ": {"BREEDER_NAME": "Kennel demo breeder"},
    "BREEDER_EMAIL": {"BREEDER_EMAIL": ""},
    "SECRET_KEY": {"SECRET_KEY": None},
    "SECRET_KEY ": {"SECRET_KEY": "change-me"},
    "SECRET_KEY  ": {"SECRET_KEY": "ab" * 40},  # long, but two distinct characters
    "SECRET_KEY   ": {"SECRET_KEY": "kennel-sandbox-insecure-key"},
    "DEBUG": {"DEBUG": "true"},
    "SITE_URL": {"SITE_URL": "http://shop.example.com"},
    "DEFAULT_FROM_EMAIL": {"DEFAULT_FROM_EMAIL": None},
    # Tried: every request, the providers' webhooks included, answered 400.
    "ALLOWED_HOSTS": {"ALLOWED_HOSTS": ""},
    "ALLOWED_HOSTS ": {"ALLOWED_HOSTS": "other.example.com"},
}


@pytest.mark.parametrize("setting", UNSAFE)
def test_an_unsafe_live_setting_stops_check_naming_it(setting, tmp_path):
    result = kennel("check", settings=production(**UNSAFE[setting]), tmp_path=tmp_path)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "(kennel.E" in line]
    assert len(errors) == 1, result.stderr
    assert setting.strip() in errors[0]


def test_every_problem_is_named_at_once(tmp_path):
    result = kennel(
        "check",
        settings={"PAYMENTS_MODE": "live", "PAYPAL_CLIENT_ID": "half-configured"},
        tmp_path=tmp_path,
    )
    assert result.returncode != 0
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "PAYPAL_CLIENT_SECRET",
        "PAYPAL_WEBHOOK_ID",
        "EMAIL_URL",
        "OWNER_EMAIL",
        "BREEDER_NAME",
        "BREEDER_EMAIL",
        "SECRET_KEY",
        "SITE_URL",
    ):
        assert f") {name} " in result.stderr, name


@pytest.mark.parametrize("command", [["migrate", "--noinput"], ["worker", "--batch"], ["serve"]])
def test_commands_refuse_to_start(command, tmp_path):
    result = kennel(*command, settings=production(DEBUG="true"), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "(kennel.E022) DEBUG is true" in result.stderr


def test_the_wsgi_application_refuses_to_load(tmp_path):
    """What granian imports: it runs no system checks, so the module asks the guard itself."""
    settings = production(SITE_URL="http://shop.example.com", OWNER_EMAIL=None)
    result = kennel(settings=settings, tmp_path=tmp_path, module="import kennel.wsgi")
    assert result.returncode != 0
    assert "Kennel refuses to start in live mode" in result.stderr
    assert "SITE_URL" in result.stderr
    assert "OWNER_EMAIL" in result.stderr


def test_the_wsgi_application_loads_with_the_documented_settings(tmp_path):
    result = kennel(settings=production(), tmp_path=tmp_path, module="import kennel.wsgi")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("HOLD_RATE", "10", "HOLD_RATE='10' is not a rate"),
        ("HOLD_RATE", "ten", "HOLD_RATE='ten' is not a rate"),
        ("HOLD_RATE", "10/x", "HOLD_RATE='10/x' is not a rate"),
        ("HOLD_MINUTES", "-5", "HOLD_MINUTES must be at least 1"),
        ("HOLD_MINUTES", "0", "HOLD_MINUTES must be at least 1"),
        ("PICK_WINDOW_MINUTES", "0", "PICK_WINDOW_MINUTES must be at least 1"),
        ("EMAIL_URL", "filemail://mail", "filemail:///absolute/directory"),
        ("DATABASE_URL", "notaurl", "DATABASE_URL is not a database URL"),
    ],
)
def test_a_mistyped_setting_stops_the_start_naming_it(setting, value, said, tmp_path):
    """Tried, in sandbox mode too: HOLD_RATE=10 started cleanly, then every hold was a 500;
    HOLD_MINUTES=-5 let a second buyer take a held puppy at once; filemail://mail wrote to
    /mail; DATABASE_URL=notaurl stopped every command with a bare KeyError."""
    result = kennel("check", settings={setting: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert said in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_site_url_is_kept_without_its_trailing_slash(tmp_path):
    """Tried: SITE_URL=http://…/ sent every paying buyer back to …//payments/stripe/return/,
    a 404."""
    result = kennel(
        settings={"SITE_URL": "http://shop.example.com/"},
        tmp_path=tmp_path,
        module="import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'kennel.settings'; "
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SITE_URL)",
    )
    assert result.stdout.strip() == "http://shop.example.com", result.stderr


def test_sandbox_mode_needs_no_setting(tmp_path):
    result = kennel("check", settings={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    result = kennel(settings={}, tmp_path=tmp_path, module="import kennel.wsgi")
    assert result.returncode == 0, result.stderr
