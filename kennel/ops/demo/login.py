"""A back-office login for the sandbox demo, so `make run` is clickable end to end.

Only in sandbox mode, and only while the shop has no staff user at all: a superuser `breeder`
with a random password, said once on the console. A shop that goes live makes its own logins
(`createsuperuser`); this never runs there.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model

DEMO_USERNAME = "breeder"


def demo_login_ensure() -> str:
    """Create the demo login if the shop has no staff user; returns a line for the console."""
    if settings.PAYMENTS_MODE != "sandbox":
        return ""
    users = get_user_model().objects
    if users.filter(is_staff=True).exists():
        if users.filter(username=DEMO_USERNAME).exists():
            return (
                f"Back office login: user {DEMO_USERNAME} (its password was shown when it was "
                f"made; `python -m kennel changepassword {DEMO_USERNAME}` sets a new one)"
            )
        return ""
    password = secrets.token_urlsafe(12)
    users.create_superuser(DEMO_USERNAME, "", password)
    return f"Back office login: user {DEMO_USERNAME}, password {password}"
