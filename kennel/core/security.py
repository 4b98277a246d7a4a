"""Response headers Django's SecurityMiddleware does not set, and HEAD answered like GET.

The Content-Security-Policy allows no inline script or style anywhere (templates load
kennel/static/kennel/*.css|js; the Django admin loads its own static files only). Forms may
post to the shop and be redirected on to the payment pages, which Chromium checks against
`form-action` too: the providers' checkout origins are listed (the sandbox's in sandbox mode).

HEAD: uptime monitors ask with HEAD, and views or API routes declared GET-only would answer
405. Every HEAD is handled as a GET (as Django's class-based views do), and the body is
dropped here, whatever the server in front does with it; Content-Length stays that of the GET.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

# Where a buyer is sent to pay in live mode (Stripe Checkout; PayPal's approve page, live
# and PayPal's own sandbox).
LIVE_CHECKOUT_ORIGINS = (
    "https://checkout.stripe.com",
    "https://www.paypal.com",
    "https://www.sandbox.paypal.com",
)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def checkout_origins() -> list[str]:
    """The origins a reserve form's redirect may lead to (read per request: tests move them)."""
    if settings.PAYMENTS_MODE == "live":
        bases = [settings.STRIPE_API_BASE, settings.PAYPAL_API_BASE]
        found = [*LIVE_CHECKOUT_ORIGINS, *(_origin(b) for b in bases if b)]
    else:
        bases = [settings.SANDBOX_URL, settings.STRIPE_API_BASE, settings.PAYPAL_API_BASE]
        found = [_origin(b) for b in bases if b]
    return [o for o in dict.fromkeys(found) if o]


def content_security_policy() -> str:
    """The shop's policy: its own origin only, nothing inline, never framed."""
    media = _origin(settings.MEDIA_URL) or ""  # a CDN in front of the photos, if any
    static = _origin(settings.STATIC_URL) or ""
    own = " ".join(["'self'", *(o for o in (static, media) if o)])
    directives = [
        "default-src 'self'",
        f"script-src {own}",
        f"style-src {own}",
        f"img-src {own} data:",
        f"font-src {own}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action " + " ".join(["'self'", *checkout_origins()]),
    ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Content-Security-Policy on every response; HEAD handled as GET, sent without a body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        try:
            response = self.get_response(request)
        finally:
            if head:
                request.method = "HEAD"
        # Django's own error pages in DEBUG (tracebacks, URL lists) are styled inline.
        if "Content-Security-Policy" not in response and not (
            settings.DEBUG and response.status_code >= 400
        ):
            response["Content-Security-Policy"] = content_security_policy()
        if head:
            _drop_body(response)
        return response


def _drop_body(response: HttpResponseBase) -> None:
    if isinstance(response, StreamingHttpResponse):  # files: the server still closes them
        response.streaming_content = []
    elif isinstance(response, HttpResponse):
        # CommonMiddleware has set the GET's Content-Length by now; it is kept.
        if not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        response.content = b""
