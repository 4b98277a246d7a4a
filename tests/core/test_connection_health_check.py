"""A request reusing a persistent PostgreSQL connection does not ask the server whether it is
alive (Django's `SELECT 1`, one round trip a request); a connection the server closed is
still found before the request uses it, and replaced (kennel/core/postgresql)."""

import os
import resource
import time

import psycopg
import pytest
from django.db import close_old_connections, connection

from kennel.core.db import is_postgres

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if not is_postgres():
        pytest.skip("the health check without a round trip is the PostgreSQL backend's")


def _another_connection() -> psycopg.Connection:
    """A connection of the test's own, beside Django's, to look at and act on Django's."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",
        autocommit=True,
    )


def _last_statement_of(pid: int) -> str:
    """What the backend `pid` ran last, as PostgreSQL itself shows it (pg_stat_activity)."""
    with _another_connection() as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None, f"backend {pid} is gone"
    return str(row[0])


def _as_a_new_request_begins() -> None:
    """What Django does at each request: close_old_connections at request_started, then the
    health check when the request opens its first cursor."""
    close_old_connections()
    connection.cursor().close()


def test_a_reused_connection_is_not_asked_select_1():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the request before'")
    pid = connection.connection.info.backend_pid

    for _ in range(3):
        _as_a_new_request_begins()

    assert connection.connection.info.backend_pid == pid  # the same connection, reused
    assert _last_statement_of(pid) == "SELECT 'the request before'"


def test_a_connection_past_file_descriptor_1024_is_reused_as_well():
    """A busy web worker has many sockets open: select() could not even look at them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine allows {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    try:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'the request before'")
        assert connection.connection.fileno() > 1024
        pid = connection.connection.info.backend_pid

        _as_a_new_request_begins()

        assert connection.connection.info.backend_pid == pid
        assert _last_statement_of(pid) == "SELECT 'the request before'"
    finally:
        connection.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    pid = connection.connection.info.backend_pid
    with _another_connection() as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.02)

    _as_a_new_request_begins()

    assert connection.connection.info.backend_pid != pid  # a fresh connection
    with connection.cursor() as cursor:  # and the request's first statement just works
        cursor.execute("SELECT 42")
        assert cursor.fetchone() == (42,)
