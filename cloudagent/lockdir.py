"""The lock directory on a (possibly shared) filesystem: the I/O half of the lease.

Only three atomic operations are relied on: ``mkdir`` (create the lock), ``open(O_CREAT |
O_EXCL)`` (claim a new lock's baton) and ``rename`` (take a baton, move a lock away). The rules
are in :mod:`cloudagent.lease`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cloudagent.errors import CloudagentError
from cloudagent.lease import OWNER, Owner, age_seconds, find_baton, probe_name, tombstone_name

# What makes a baton the one we judged: inode numbers are reused at once on some filesystems
# (a new holder's owner file can get the number of the stale one just deleted), so the
# modification time and the owner record's token count too.
Identity = tuple[int, int, int, str | None]


def _identity(st: os.stat_result, record: Owner | None) -> Identity:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, record.token if record else None)


def _look(path: Path) -> tuple[os.stat_result, Owner | None]:
    """A baton's attributes and record, through open(): an NFS client revalidates a file's
    attributes on open (close-to-open consistency), where a bare stat may answer from its cache.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        text = os.read(fd, 4096).decode("utf-8", errors="replace")
    finally:
        os.close(fd)
    return st, Owner.from_text(text)


class LockError(CloudagentError):
    """The lock directory cannot be used at all (its parent is missing, permission denied)."""


@dataclass(frozen=True)
class Attempt:
    """One try at the lock: ``acquired``, ``busy`` or ``retry`` (it changed under us).

    ``previous`` and ``age`` describe who held it: the live holder when busy, the stale holder
    we took over from when acquired after a takeover.
    """

    outcome: str
    previous: Owner | None = None
    age: float | None = None
    took_over: bool = False


class LockDir:
    """A lock directory as seen by one contender or holder (``owner`` is this process)."""

    def __init__(self, path: Path, owner: Owner, stale_after: float) -> None:
        self.path = path
        self.owner = owner
        self.stale_after = stale_after
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None

    # -- contender ----------------------------------------------------------------------------

    def try_acquire(self) -> Attempt:
        """Create the lock, or take over a stale one (then create it), or report who holds it."""
        first = self._mkdir()
        if first.outcome != "busy":
            return first
        reaped = self._reap_if_stale()
        if reaped.outcome != "acquired":
            return reaped
        second = self._mkdir()  # another contender may create it first: that is "busy"
        if second.outcome == "acquired":
            return Attempt("acquired", reaped.previous, reaped.age, took_over=True)
        return second

    def _mkdir(self) -> Attempt:
        try:
            os.mkdir(self.path, 0o755)
        except FileExistsError:
            return Attempt("busy")
        except FileNotFoundError:
            raise LockError(
                f"{self.path.parent}: no such directory (create it, or mount the shared filesystem)"
            ) from None
        except PermissionError as exc:
            raise LockError(f"{self.path}: cannot create the lock ({exc.strerror})") from None
        if self._claim_new_baton():
            return Attempt("acquired")
        return Attempt("retry")  # our fresh directory was judged stale: we stalled; start over

    def _claim_new_baton(self) -> bool:
        try:
            fd = os.open(self.path / OWNER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except (FileExistsError, FileNotFoundError):
            return False
        os.write(fd, self.owner.to_text().encode())
        os.fsync(fd)
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)
        return True

    def _probe_ns(self) -> int:
        """The file server's "now": the ctime of a file created on it this instant."""
        probe = self.path.parent / probe_name(self.path.name, self.owner.token)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            return os.fstat(fd).st_ctime_ns
        finally:
            os.close(fd)
            os.unlink(probe)

    def _reap_if_stale(self) -> Attempt:
        """Busy unless the lock is stale and we win its baton; then move it away."""
        try:
            names = os.listdir(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return Attempt("retry")
        baton = find_baton(names)
        try:
            st, previous = _look(self.path / baton) if baton else (os.stat(self.path), None)
        except (FileNotFoundError, NotADirectoryError):
            return Attempt("retry")
        age = age_seconds(self._probe_ns(), st.st_mtime_ns, st.st_ctime_ns)
        if age < self.stale_after:
            return Attempt("busy", previous, age)
        if baton is None:
            # A holder died between mkdir and writing its owner file: claim the empty lock's
            # baton with the same O_EXCL create a holder uses, so it cannot also claim it.
            if not self._claim_new_baton() or self._fd is None:
                return Attempt("retry")
            judged = _identity(os.fstat(self._fd), self.owner)
            baton, ino = OWNER, self._ino
            self._close()
        else:
            judged = _identity(st, previous)
            ino = (st.st_dev, st.st_ino)
        if not self._take_baton(baton, judged, f"reaped.{self.owner.token}"):
            return Attempt("retry")
        if not self._remove_lock(f"reaped.{self.owner.token}", ino):
            return Attempt("retry")
        return Attempt("acquired", previous, age)

    def _take_baton(self, name: str, judged: Identity, new: str) -> bool:
        """Rename the baton to ``new``; True when what we took is the file we judged."""
        try:
            os.rename(self.path / name, self.path / new)
        except (FileNotFoundError, NotADirectoryError):
            return False  # another contender took it first
        try:
            taken = _identity(*_look(self.path / new))
            os.utime(self.path / new)  # a fresh ctime: nobody may judge our claim stale
        except FileNotFoundError:
            return False
        if taken != judged:
            # The lock was replaced between our look and our rename: give the live holder its
            # baton back.
            with contextlib.suppress(OSError):
                os.rename(self.path / new, self.path / name)
            return False
        return True

    def _remove_lock(self, baton: str, ino: tuple[int, int] | None) -> bool:
        """Rename the lock (whose baton we hold) to a unique tombstone and delete it."""
        tomb = self.path.parent / tombstone_name(self.path.name, self.owner.token)
        try:
            os.rename(self.path, tomb)
        except OSError:
            return False
        try:
            st = os.stat(tomb / baton)
            ours = (st.st_dev, st.st_ino) == ino
        except FileNotFoundError:
            ours = False
        if not ours:
            # Only reachable when we were paused for longer than --stale-after; put it back.
            with contextlib.suppress(OSError):
                os.rename(tomb, self.path)
            return False
        shutil.rmtree(tomb, ignore_errors=True)
        return True

    # -- holder -------------------------------------------------------------------------------

    def verify(self) -> str | None:
        """None while the lock is still ours; else why not (raises OSError when unsure)."""
        if self._fd is None or self._ino is None:
            return "this process does not hold the lock"
        try:
            st, record = _look(self.path / OWNER)
        except (FileNotFoundError, NotADirectoryError):
            return f"{self.path}/{OWNER} is gone (taken over as stale, or removed)"
        if record is None or record.token != self.owner.token:
            holder = record.describe() if record else "an unreadable owner record"
            return f"{self.path} now belongs to {holder}"
        if (st.st_dev, st.st_ino) != self._ino:
            return f"{self.path} was replaced by a copy"
        return None

    def refresh(self) -> None:
        """Heartbeat: the file server stamps our owner file with its own time."""
        if self._fd is None:
            raise LockError("refresh without holding the lock")
        os.utime(
            self._fd
        )  # futimens(fd, NULL): "now" as the server sees it (NFS: SET_TO_SERVER_TIME)

    def release(self) -> bool:
        """Remove the lock if it is still ours; False (and nothing touched) otherwise."""
        try:
            if self.verify() is not None:
                return False
            mine = _identity(*_look(self.path / OWNER))
            return self._take_baton(OWNER, mine, f"released.{self.owner.token}") and (
                self._remove_lock(f"released.{self.owner.token}", self._ino)
            )
        except OSError:
            return False
        finally:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._ino = None, None
