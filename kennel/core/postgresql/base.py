"""Django's PostgreSQL backend, with one change: how a persistent connection is checked
before a request reuses it (CONN_HEALTH_CHECKS).

Django asks the server (`SELECT 1`) at the start of every request. That round trip is as
dear as the request's own work on the hot paths: a refused hold or a webhook is one
statement. A connection the server closed (a restart, `pg_terminate_backend`, an idle
timeout) has left something on its socket — the server's FATAL message, then end of file —
while a healthy idle connection has nothing to read. So the socket is polled (no wait, no
round trip) and the server is asked only when something is there. A connection lost
without a word (the network cut) is found by the request's first statement, as it would
be a moment after a `SELECT 1` too: the request answers 503 and the next one reconnects
(kennel/core/middleware.py).
"""

import select

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            socket = self.connection.fileno()
        except psycopg.Error:
            return False
        poller = select.poll()  # not select.select: a busy process's sockets pass fd 1024
        poller.register(socket, select.POLLIN | select.POLLPRI)
        if not poller.poll(0):
            return True  # idle and silent: as the server left it
        return bool(super().is_usable())  # a message or end of file: ask
