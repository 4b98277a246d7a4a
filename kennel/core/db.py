"""Database helpers shared by the services: vendor checks and lock timeouts."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction

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
