"""Waking the worker's idle threads as soon as work is enqueued, instead of at their next poll.

The outbox sends a NOTIFY on WAKE_CHANNEL with the work's tasks (delivered at COMMIT, never for
a rolled-back change); the worker's `listen_for_work` thread rings the queue's `Wakeup`, on
which that queue's threads wait between polls. PostgreSQL only: on SQLite the threads poll.
"""

import logging
import threading

from django.db import connection

log = logging.getLogger(__name__)

# PostgreSQL NOTIFY channel: its payload names the queue that has new work.
WAKE_CHANNEL = "kennel_outbox"


class Wakeup:
    """Rung when work is enqueued on one queue; its worker threads wait on it between polls.

    A generation counter, not a flag: a thread notes the generation before it looks for work
    (`seen`) and `wait` returns at once if a ring came since, so a ring between "nothing to
    do" and the wait is never lost, and one ring wakes every idle thread."""

    def __init__(self) -> None:
        self._rang = threading.Condition()
        self._generation = 0

    def seen(self) -> int:
        return self._generation

    def ring(self) -> None:
        with self._rang:
            self._generation += 1
            self._rang.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Until a ring after `seen`, at most `timeout` seconds; whether one came."""
        with self._rang:
            return self._rang.wait_for(lambda: self._generation != seen, timeout)


def listen_for_work(wakeups: dict[str, Wakeup], stop: threading.Event) -> None:
    """Ring `wakeups[queue]` for each NOTIFY on WAKE_CHANNEL until `stop` (a worker's thread;
    PostgreSQL only). It holds a connection of its own; when that is lost it tries again
    every few seconds, and meanwhile ring every queue then and again: the threads' polling
    goes on regardless, so a lost notification only costs one poll interval."""
    import psycopg  # PostgreSQL only, and only in the worker

    retry = 1.0
    while not stop.is_set():
        try:
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            with psycopg.connect(**params, autocommit=True) as listener:
                listener.execute(f"LISTEN {WAKE_CHANNEL}")
                retry = 1.0
                for wakeup in wakeups.values():
                    wakeup.ring()  # work enqueued before LISTEN took effect
                while not stop.is_set():
                    for note in listener.notifies(timeout=1.0):
                        woken = wakeups.get(note.payload)
                        if woken is not None:
                            woken.ring()
                        if stop.is_set():
                            break
        except Exception as exc:  # never let the listener die: polling alone is slower
            log.warning("the outbox listener lost its connection (%s); again in %.0f s", exc, retry)
            stop.wait(retry)
            retry = min(retry * 2, 30.0)
