"""Exec a command that dies with its parent: ``python -I -S deathsig.py PARENT_PID GO_FD CMD...``.

``cloudagent exclusive`` starts its child through this file, run by path with only the standard
library (no site, no package import: it is fast and has no threads). It asks the kernel to send
SIGKILL when the parent dies (``PR_SET_PDEATHSIG``, prctl(2)), then checks that the parent is
still the one that started it: if the parent died before the request was made, the signal
would never come, so the command is not started at all. The request survives ``execve``.

The child is started while the parent still waits for the lock, so that the interpreter's
start-up is not spent holding it: it execs the command only when the parent writes a byte to
GO_FD, and exits quietly when the parent closes GO_FD instead.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    """Set the parent-death signal, check the parent, exec the command; return only on error."""
    if len(argv) < 4 or not argv[1].isdigit() or not argv[2].isdigit():
        print("usage: deathsig.py PARENT_PID GO_FD CMD [ARGS...]", file=sys.stderr)
        return 2
    parent, go, command = int(argv[1]), int(argv[2]), argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        print(f"cloudagent exclusive: prctl(PR_SET_PDEATHSIG): {os.strerror(err)}", file=sys.stderr)
        return 125
    if os.getppid() != parent:
        return 125  # the holder is already gone: never start an orphan
    if os.read(go, 1) != b"x":
        return 125  # the holder did not get the lock (or died): never start the command
    os.close(go)
    if os.getppid() != parent:
        return 125
    # Python ignores SIGPIPE and SIGXFSZ at start-up; the command must get the defaults.
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execvp(command[0], command)  # noqa: S606 - the user's own argv, no shell
    except OSError as exc:
        print(f"cloudagent exclusive: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 126  # not reached: execvp returns only by raising


if __name__ == "__main__":
    sys.exit(main(sys.argv))
