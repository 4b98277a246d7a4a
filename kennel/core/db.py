"""Database helpers shared by the services: vendor checks, lock timeouts, UPDATE … RETURNING."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.db.models.sql import UpdateQuery

from kennel.core.errors import Busy

M = TypeVar("M", bound=models.Model)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def update_returning(queryset: "models.QuerySet[M]", **values: Any) -> list[M]:
    """`queryset.update(**values)` that also gives back the rows it changed, as they are
    after it, in the same statement (`UPDATE … RETURNING`; PostgreSQL, SQLite ≥ 3.35).

    A claim is a conditional UPDATE (of many callers only one changes the row); with this the
    claimer reads what it claimed without a second round trip. Every job the worker runs
    claims one or two rows this way (bench/HISTORY.md)."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(values)
    compiler = query.get_compiler(queryset.db)
    compiler.pre_sql_setup()
    sql, params = compiler.as_sql()
    # list(): read to the end, so that SQLite finishes the statement (and its write) here.
    return list(
        queryset.model._default_manager.db_manager(queryset.db).raw(f"{sql} RETURNING *", params)
    )


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
