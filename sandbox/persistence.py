"""The sandbox's state on disk, so that a restarted sandbox still knows the payments it took.

One JSON document (``var/sandbox-state.json`` under ``python -m sandbox``) holds both providers'
objects and events, the stored idempotent answers, PayPal's OAuth tokens and its signing key.
It is loaded at start and replaced atomically (a temporary file in the same directory, then
``os.replace``) after changes: before the response to a request that changed something is
sent, within a second of a change made in the background (a session expiring, a payment
settling), and when the sandbox stops.  A crash mid-write leaves the previous document, never
half of one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from sandbox.core import JSON

log = logging.getLogger("sandbox")

#: Bumped when the document's shape changes; another format is refused, not guessed at.
FORMAT = 1


class StateFileError(RuntimeError):
    """The state file exists but is not sandbox state this version can read."""


class StateFile:
    """One JSON document at ``path`` (relative paths are taken from the current directory)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> JSON | None:
        """The saved state, or None when there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise StateFileError(f"{self.path} is not JSON ({exc}); move it away") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise StateFileError(
                f"{self.path} is not sandbox state of format {FORMAT}; move it away"
            )
        return document

    def write(self, state: JSON) -> None:
        """Replace the file with ``state`` in one step."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file readable by its owner only: it holds the PayPal signing key.
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"format": FORMAT, **state}, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class Saver:
    """Writes the state after it changed: :meth:`changed` marks it, :meth:`flush` writes it.

    Writes are serialised and each takes a fresh snapshot, so the file never goes back to an
    older state.  A change marked before a flush began is in what that flush writes: the
    snapshot is taken under the providers' locks, which the change holds until it is complete.
    """

    def __init__(self, file: StateFile, snapshot: Callable[[], JSON]) -> None:
        self._file = file
        self._snapshot = snapshot
        self._write_lock = threading.Lock()
        self._mark_lock = threading.Lock()
        self._dirty = False

    def changed(self) -> None:
        with self._mark_lock:
            self._dirty = True

    def flush(self, *, strict: bool = False) -> None:
        """Write the state if it changed since the last write.  A failed write raises when
        ``strict``; otherwise it is logged and retried at the next flush, the sandbox serving
        from memory meanwhile."""
        with self._write_lock:
            with self._mark_lock:
                if not self._dirty:
                    return
                self._dirty = False
            try:
                self._file.write(self._snapshot())
            except Exception:
                self.changed()
                if strict:
                    raise
                log.exception("sandbox: could not save its state to %s", self._file.path)
