"""WSGI entry point (granian serves `kennel.wsgi:application`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kennel.settings")

application = get_wsgi_application()

# A WSGI server runs no system checks: the go-live guard is asked here, so a live shop with
# unsafe settings never starts serving (kennel/core/checks.py).
from kennel.core.checks import refuse_unsafe_live_start  # noqa: E402

refuse_unsafe_live_start()
