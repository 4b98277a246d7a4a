import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djstripe_project.settings")
application = get_wsgi_application()

# The one adaptation to the offline sandbox: dj-stripe retrieves a Checkout Session with
# expand[]=line_items, total_details.breakdown and line_items.data.discounts; the sandbox
# expands line_items only (it refuses the other two, Stripe would fill them). Same number of
# API calls, the same work on dj-stripe's side but for those two (empty) objects.
from djstripe.models import Session  # noqa: E402

Session.expand_fields = ["line_items"]
