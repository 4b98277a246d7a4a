"""Django's CSRF tokens, with their randomness drawn in one call.

Django 5.2 builds each 32-letter CSRF string — a visitor's secret, and the mask that makes
every page's token different (against BREACH) — with `get_random_string`: one
`secrets.choice`, so one getrandom() system call, per letter. A first visit's page costs 64
of them, a returning visitor's 32; on the cached catalogue that was a sixth of the request
(cProfile). The same generator (`secrets`) fills a string in one call here: +7-10 % cached
catalogue pages a second on the production stack. Unbiased: a byte past the largest multiple
of the alphabet's 62 letters is dropped, never folded onto a letter.
"""

import secrets

from django.core.exceptions import ImproperlyConfigured
from django.middleware import csrf

_BYTES_PER_DRAW = 48  # 32 letters are needed; 248 of 256 byte values are usable


def new_csrf_string() -> str:
    """32 letters of CSRF_ALLOWED_CHARS, each drawn uniformly from a CSPRNG."""
    alphabet = csrf.CSRF_ALLOWED_CHARS
    usable = 256 - 256 % len(alphabet)
    letters: list[str] = []
    while len(letters) < csrf.CSRF_SECRET_LENGTH:
        draw = secrets.token_bytes(_BYTES_PER_DRAW)
        letters += [alphabet[byte % len(alphabet)] for byte in draw if byte < usable]
    return "".join(letters[: csrf.CSRF_SECRET_LENGTH])


def csrf_strings_in_one_call() -> None:
    """Make Django's CSRF middleware and `get_token` use new_csrf_string (at start, once).
    Everything else — masking, the cookie, the checks — stays Django's own."""
    if not callable(getattr(csrf, "_get_new_csrf_string", None)):
        raise ImproperlyConfigured(
            "django.middleware.csrf._get_new_csrf_string is gone: see kennel/core/csrf.py"
        )
    setattr(csrf, "_get_new_csrf_string", new_csrf_string)  # noqa: B010
