"""Atomic, idempotent writes: a reader never sees half a file; an unchanged one is untouched."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, text: str, mode: int = 0o644, *, sync_dir: bool = True) -> None:
    """Write ``text`` to ``path`` through a dot-named temp file in the same directory,
    fsync it, rename it over ``path`` and fsync the directory.

    ``sync_dir=False`` skips the directory fsync: a crash may then leave the old file in
    place (never a torn one). For derived state that is rebuilt at start, such as the hosts
    file, that saves a disk flush on every change."""
    # The temp name starts with a dot: dnsmasq's hostsdir watcher ignores dot files, and when
    # it read a non-dot temp file we measured ghost entries that outlived the rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not sync_dir:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_text(path: Path) -> str | None:
    """The file's text, or None when it (or its directory) does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


class ManagedFile:
    """A file we own: remembers what it last wrote so that an unchanged text costs nothing."""

    def __init__(
        self,
        path: Path,
        mode: int = 0o644,
        *,
        sync_dir: bool = True,
        read: Callable[[Path], str | None] = read_text,
    ) -> None:
        self.path = path
        self.mode = mode
        self.sync_dir = sync_dir
        self._last: str | None = read(path)

    @property
    def text(self) -> str | None:
        """What the file holds (as last written or found at start)."""
        return self._last

    def write(self, text: str) -> bool:
        """Write ``text`` if it differs from the file; True when it was written.

        Raises OSError when the write fails (a full or read-only disk); the file then keeps
        its last good text and the next call with the same text tries again.
        """
        if text == self._last:
            return False
        write_atomic(self.path, text, self.mode, sync_dir=self.sync_dir)
        self._last = text
        return True


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class DigestedFile:
    """A file we own that grows with the cluster (the topology table, the arrivals record):
    like :class:`ManagedFile`, but it remembers a digest of what it last wrote, not the text
    (~5 MB each at 50 000 members)."""

    def __init__(
        self, path: Path, mode: int = 0o644, *, read: Callable[[Path], str | None] = read_text
    ) -> None:
        self.path = path
        self.mode = mode
        found = read(path)
        self._last = _digest(found) if found is not None else None

    def write(self, text: str) -> bool:
        """Write ``text`` if it differs from the file; True when it was written.

        Raises OSError when the write fails; the next call with the same text tries again.
        """
        digest = _digest(text)
        if digest == self._last:
            return False
        write_atomic(self.path, text, self.mode)
        self._last = digest
        return True
