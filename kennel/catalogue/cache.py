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
from typing import Any

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
