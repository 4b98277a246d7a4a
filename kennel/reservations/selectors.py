"""Reads of reservations that pages and the API share."""

import re

from kennel.reservations.models import Reservation

# The alphabet of secrets.token_urlsafe() (see models.new_token), within the column's length.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def reservation_by_token(token: str) -> Reservation | None:
    """The reservation behind a buyer's status-page token, with its puppy, or None.

    A value that cannot be a token is answered without a query (it could hold a NUL byte,
    which PostgreSQL refuses with an error).
    """
    if not TOKEN_RE.fullmatch(token or ""):
        return None
    return (
        Reservation.objects.select_related("puppy")
        .prefetch_related("puppy__photos")
        .filter(token=token)
        .first()
    )
