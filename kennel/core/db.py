"""Database helpers shared by the services: vendor checks and lock timeouts."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from kennel.core.errors import Busy


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def locked_transaction() -> Iterator[None]:
    """A transaction whose row locks give up after LOCK_TIMEOUT_SECONDS with `Busy` (503).

    On SQLite the IMMEDIATE transaction mode and the connection timeout play the same role.
    """
    try:
        with transaction.atomic():
            if is_postgres():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('lock_timeout', %s, true)",
                        [f"{settings.LOCK_TIMEOUT_SECONDS}s"],
                    )
            yield
    except OperationalError as exc:
        text = str(exc).lower()
        if "lock" in text or "timeout" in text or "database is locked" in text:
            raise Busy() from exc
        raise


# SQLSTATE classes of a connection that is gone or refused: connection exceptions (08…) and
# the server shutting down or terminating the backend (57P01 to 57P03).
_LOST_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (down, restarting, the connection
    dropped) rather than a statement failing: then retrying later is the only answer."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.__cause__, "sqlstate", None)
    if state is None:
        # No server answer at all (connect refused, socket closed) — or SQLite, whose only
        # operational errors here are a locked or missing file: also "try again later".
        return True
    return state.startswith(_LOST_CONNECTION_STATES)


def close_broken_connection() -> None:
    """Drop a connection that failed, so the next use opens a fresh one."""
    try:
        if connection.connection is not None and not connection.in_atomic_block:
            connection.close()
    except Exception:  # noqa: S110 — it is broken already; closing is best effort
        pass
