"""What the public pages render from the catalogue, cached under the catalogue's version:
fast, and never stale.

The version is a counter in the database (table catalogue_version) that triggers move on in
the same transaction as every change to a puppy, a photo, a litter, a parent or a page
(migration catalogue/0006). A page reads it first — one single-row query — and then looks
its rendering up in this process's memory under (version, language, day, what was
asked). A committed change has moved the version on before anyone can read the change, so
the next request misses and renders afresh; something rendered from data newer than its
version is harmless (the version only ever grows). What is cached is shared by every
visitor: nothing per buyer may go into it (catalogue/views.py's shared_page puts each
request's CSRF token back; a browser with a hold of its own, or a session, is rendered for
alone).
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection
from django.utils import timezone, translation

# Only the current version's renderings are kept (what an older version rendered can never be
# asked for again): the first one stored under a new version empties the rest. Within a
# version at most MAX_ENTRIES are kept, the least recently asked for going first: a crawler
# walking hundreds of puppy pages never pushes out the catalogue everyone is reading. A
# worker's cache so stays a few MB however long it runs and however often puppies change.
MAX_ENTRIES = 200
_entries: OrderedDict[str, Any] = OrderedDict()
_entries_version = -1
_lock = threading.Lock()
# The keys being rendered right now in this process, each with what its waiters wait on
# (fragment_make).
_making: dict[str, threading.Event] = {}
# How long a request waits for another's rendering of the same key before rendering its own:
# far longer than a page takes, short enough that a stuck rendering costs a page its time.
MAKE_WAIT_SECONDS = 5.0

T = TypeVar("T")


def catalogue_version() -> int | None:
    """The committed catalogue version, or None when a fragment must not be used.

    None inside a transaction: its own uncommitted writes have not moved the version yet
    (the bump runs at COMMIT on PostgreSQL), so it must render what it sees itself.
    """
    if connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM catalogue_version WHERE id = 1")
        row = cursor.fetchone()
    return int(row[0]) if row else None


def fragment_key(name: str, *parts: Any) -> str | None:
    """The cache key of `name` for `parts` in the current version, language and day (a
    puppy's age in words changes at midnight), or None when nothing may be cached."""
    version = catalogue_version()
    if version is None:
        return None
    language = translation.get_language() or ""
    # Hashed: the parts come from the query string, and cache keys must stay short and plain.
    asked = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"catalogue:{name}:{version}:{language}:{timezone.localdate().isoformat()}:{asked}"


def fragment_get(key: str | None) -> Any:
    if not key:
        return None
    with _lock:
        value = _entries.get(key)
        if value is not None:
            _entries.move_to_end(key)  # asked for just now: the last to go
        return value


def fragment_set(key: str | None, value: Any) -> None:
    global _entries_version
    if not key:
        return
    version = int(key.split(":", 3)[2])  # catalogue:<name>:<version>:…
    with _lock:
        if version < _entries_version:
            return  # rendered under a version already superseded here: never asked again
        if version > _entries_version:
            _entries.clear()
            _entries_version = version
        _entries[key] = value
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)  # the least recently asked for


def fragment_make(key: str | None, make: Callable[[], T | None]) -> T | None:
    """What is cached under `key`, or else what `make()` gives, cached (unless None: e.g.
    "not found", which is never shared). With no key, `make()` for this request alone.

    One rendering per key: every change moves the version on, and every request just after
    it misses at once — in a litter's first minutes, holds arriving while hundreds of
    families read the pages. The first request of a key renders it; the others asking
    meanwhile wait for it and share it, instead of each rendering the same page on the same
    cores (their version is the same, so what they share is as fresh as what they would
    render). A waiter whose renderer gave nothing to share (not found, or superseded by a
    newer version) or took too long renders its own."""
    if not key:
        return make()
    value: T | None = fragment_get(key)
    if value is not None:
        return value
    with _lock:
        value = _entries.get(key)
        if value is not None:
            return value  # stored by a rendering that ended since the lookup above
        rendering = _making.get(key)
        if rendering is None:
            rendering = _making[key] = threading.Event()
            mine = True
        else:
            mine = False
    if not mine:
        rendering.wait(MAKE_WAIT_SECONDS)
        value = fragment_get(key)
        return value if value is not None else make()
    try:
        value = make()
        if value is not None:
            fragment_set(key, value)
        return value
    finally:
        with _lock:
            del _making[key]
        rendering.set()
