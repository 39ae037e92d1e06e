"""The pure rules of the shared-filesystem lease behind ``cloudagent exclusive``.

The lock is a directory that exists while it is held. Inside it one file, the *baton*, names
whoever acts on that directory: ``owner`` while a holder runs, ``reaped.<token>`` while a
contender removes a stale lock, ``released.<token>`` while the holder removes its own. Taking
the baton is a ``rename`` of one fixed name, so exactly one process can win it; only the baton's
winner may rename the directory away. Age is measured with the file server's clock only: the
baton's ctime (set by the server on every heartbeat and on the rename that takes it) against
the ctime of a probe file the contender creates now on the same filesystem.
"""

from __future__ import annotations

import json
import re
import signal
from dataclasses import dataclass

OWNER = "owner"
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
BATON_RE = re.compile(r"^(?:owner|(?:reaped|released)\.[0-9a-f]{32})$")
EXIT_BUSY = 75  # EX_TEMPFAIL: try again later (only without --wait)
EXIT_LOST = 74  # the lease was lost while the child ran; the child was stopped
MIN_STALE_RATIO = 2.0


@dataclass(frozen=True)
class Owner:
    """Who holds (or held) a lock directory: written once by the holder into ``owner``."""

    host: str
    pid: int
    token: str

    def to_text(self) -> str:
        """The owner record as one JSON line.

        >>> Owner("h1", 42, "0" * 32).to_text()
        '{"host": "h1", "pid": 42, "token": "00000000000000000000000000000000"}\\n'
        """
        return json.dumps({"host": self.host, "pid": self.pid, "token": self.token}) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Owner | None:
        """Parse an owner record; None for anything malformed (a half-written or foreign file).

        >>> Owner.from_text(Owner("h1", 42, "a" * 32).to_text())
        Owner(host='h1', pid=42, token='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
        >>> Owner.from_text('{"host": "h1"}') is None
        True
        """
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        host, pid, token = doc.get("host"), doc.get("pid"), doc.get("token")
        if not isinstance(host, str) or not isinstance(pid, int) or not isinstance(token, str):
            return None
        if not TOKEN_RE.match(token):
            return None
        return cls(host[:255], pid, token)

    def describe(self) -> str:
        """``host H pid P`` for messages."""
        return f"host {self.host} pid {self.pid}"


@dataclass(frozen=True)
class Timing:
    """The lease's timing, all in seconds."""

    heartbeat: float = 10.0
    stale_after: float = 60.0
    grace: float = 10.0

    def problems(self) -> list[str]:
        """Everything wrong with these values, one sentence each.

        >>> [p[:40] for p in Timing(heartbeat=10, stale_after=15).problems()]
        ['--stale-after (15s) must be at least 2 x']
        """
        found: list[str] = []
        if self.heartbeat <= 0:
            found.append(f"--heartbeat must be positive, not {self.heartbeat:g}")
        if self.grace < 0:
            found.append(f"--grace must not be negative, not {self.grace:g}")
        if self.heartbeat > 0 and self.stale_after < MIN_STALE_RATIO * self.heartbeat:
            found.append(
                f"--stale-after ({self.stale_after:g}s) must be at least 2 x --heartbeat "
                f"({self.heartbeat:g}s): one late heartbeat must not make a live holder stale"
            )
        return found

    def self_fence_after(self) -> float:
        """How long a holder may go without a successful heartbeat before it stops its child
        on its own: before any contender can judge it stale, whatever happened to the
        filesystem (one heartbeat of margin for the contender's own delay).

        >>> Timing(heartbeat=10.0, stale_after=60.0).self_fence_after()
        50.0
        """
        return self.stale_after - self.heartbeat


def age_seconds(probe_ns: int, baton_mtime_ns: int, baton_ctime_ns: int) -> float:
    """Seconds since the baton was last touched, by the filesystem's own clock.

    Both stamps come from the same file server, so no two hosts' clocks are compared. A rename
    updates ctime but not mtime, so the newer of the two counts.

    >>> age_seconds(10_000_000_000, 2_000_000_000, 4_000_000_000)
    6.0
    """
    return (probe_ns - max(baton_mtime_ns, baton_ctime_ns)) / 1e9


def exit_status(returncode: int) -> int:
    """The child's status as a shell reports it: its code, or 128 + the killing signal.

    >>> exit_status(3), exit_status(-9)
    (3, 137)
    """
    return 128 - returncode if returncode < 0 else returncode


def new_token(random_bytes: bytes) -> str:
    """A lease token from 16 random bytes.

    >>> new_token(bytes(16))
    '00000000000000000000000000000000'
    """
    if len(random_bytes) != 16:
        raise ValueError("a token needs 16 random bytes")
    return random_bytes.hex()


def tombstone_name(lock_name: str, token: str) -> str:
    """The unique name a lock directory is renamed to before it is deleted.

    >>> tombstone_name("mysql.lock", "ab" * 16)
    '.mysql.lock.tomb.abababababababababababababababab'
    """
    return f".{lock_name}.tomb.{token}"


def probe_name(lock_name: str, token: str) -> str:
    """The probe file whose ctime is the file server's "now"."""
    return f".{lock_name}.probe.{token}"


def find_baton(names: list[str]) -> str | None:
    """The baton among a lock directory's entries (None when there is none yet).

    >>> find_baton(["reaped." + "a" * 32])
    'reaped.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    >>> find_baton(["junk"]) is None
    True
    """
    batons = sorted(n for n in names if BATON_RE.match(n))
    return batons[0] if batons else None


FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
