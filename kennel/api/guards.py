"""What every write to the API must be: JSON, and not a browser's request from another site.

The API has no session and no CSRF token (its clients are scripts and the shop's own pages).
A cross-site page could still make its visitors' browsers POST to it: a `text/plain` form or
fetch needs no CORS preflight. So a write must say `application/json` (which from another site
does need a preflight, which Kennel never grants), and a browser's `Origin`, when sent, must be
the shop's own.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from kennel.core.errors import ApplicationError

JSON_ONLY_MESSAGE = "Send the request body as JSON (Content-Type: application/json)."
CROSS_ORIGIN_MESSAGE = "Reservations can only be made from the shop's own pages."
TOO_LARGE_MESSAGE = "The request body is too large."


def refuse_unreadable_write(request: HttpRequest) -> None:
    """What every write to the API is checked for, before its body is read (api/routers.py
    wraps each operation): refuse_cross_site_write, then ApplicationError 413
    PAYLOAD_TOO_LARGE for a body over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    refuse_cross_site_write(request)
    try:
        request.body  # noqa: B018 (read here, where its size is checked)
    except RequestDataTooBig:
        raise ApplicationError("PAYLOAD_TOO_LARGE", TOO_LARGE_MESSAGE, status=413) from None


def refuse_cross_site_write(request: HttpRequest) -> None:
    """Raise ApplicationError 415 UNSUPPORTED_MEDIA_TYPE / 403 CROSS_ORIGIN_REFUSED."""
    if request.content_type != "application/json":
        raise ApplicationError("UNSUPPORTED_MEDIA_TYPE", JSON_ONLY_MESSAGE, status=415)
    origin = request.headers.get("Origin")
    if origin is not None and _origin(origin) not in _own_origins(request):
        raise ApplicationError("CROSS_ORIGIN_REFUSED", CROSS_ORIGIN_MESSAGE, status=403)


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origins(request: HttpRequest) -> set[str]:
    own = {_origin(settings.SITE_URL), _origin(request.build_absolute_uri("/"))}
    own |= {_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS}
    return own
