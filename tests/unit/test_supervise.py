"""Child supervision with tiny real programs (sh scripts): exits, crashes, ignores SIGTERM."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from cloudagent.backoff import Backoff
from cloudagent.daemon.supervise import Child, ChildFatalError
from cloudagent.dns.dnsmasq import diagnose_dnsmasq
from cloudagent.serf.process import diagnose_serf


def quick() -> Backoff:
    return Backoff(initial=0.05, maximum=0.1, jitter=0.0)


def test_a_child_that_exits_is_restarted_at_once_then_with_backoff(tmp_path: Path) -> None:
    starts = tmp_path / "starts"

    async def main() -> list[float]:
        slow = Backoff(initial=0.5, maximum=0.5, jitter=0.0)
        child = Child("exits", ["sh", "-c", f"date +%s.%N >> {starts}; exit 3"], backoff=slow)
        task = asyncio.create_task(child.run())
        while not starts.exists() or len(starts.read_text().split()) < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        child.stop_restarting()
        await asyncio.wait_for(task, 5)
        return [float(t) for t in starts.read_text().split()]

    times = asyncio.run(main())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[1] >= 0.5  # repeated exits back off
    assert gaps[0] < gaps[1]  # but the first restart has no delay


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    ready = tmp_path / "ready"

    async def main() -> float:
        child = Child("stubborn", ["sh", "-c", f"trap '' TERM; touch {ready}; sleep 60"])
        task = asyncio.create_task(child.run())
        while not ready.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await child.stop(timeout=0.3)
        await asyncio.wait_for(task, 5)
        assert child.pid is None
        return time.monotonic() - started

    assert 0.3 <= asyncio.run(main()) < 5


def test_a_crashing_child_runs_in_its_own_session_without_secrets(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    env = {"PATH": os.environ["PATH"], "SERF_ENCRYPT_KEY": "k3y", "AMBARI_PASSWORD": "pw",
           "SERF_RPC_AUTH": "t0ken", "KEEP": "yes"}  # fmt: skip

    async def main() -> tuple[int, int, bytes, int]:
        child = Child("crashes", ["sh", "-c", f"touch {ready}; sleep 60"], env=env)
        task = asyncio.create_task(child.run())
        while not ready.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        pid = child.pid
        assert pid is not None
        environ = Path(f"/proc/{pid}/environ").read_bytes()  # noqa: ASYNC240 - tiny /proc read
        session, group = os.getsid(pid), os.getpgid(pid)
        os.kill(pid, signal.SIGSEGV)  # a crash: restarted at once
        while child.exits < 1 or child.pid in (None, pid):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await child.stop()
        await asyncio.wait_for(task, 5)
        return session, group, environ, pid

    session, group, environ, pid = asyncio.run(main())
    assert session == pid and group == pid  # not ours: group signals to the agent miss it
    assert b"KEEP=yes" in environ
    for secret in (b"k3y", b"pw", b"t0ken"):
        assert secret not in environ


def test_a_child_that_can_never_start_is_fatal_after_a_bound() -> None:
    async def main(child: Child) -> None:
        await asyncio.wait_for(child.run(), 10)

    in_use = "==> Failed to start the Serf agent: listen tcp 127.0.0.1:7946: address already in use"
    serf = Child("serf", ["sh", "-c", f"echo '{in_use}'; exit 1"], backoff=quick(),
                 diagnose=diagnose_serf)  # fmt: skip
    with pytest.raises(ChildFatalError, match=r"address already in use.*CLOUDAGENT_SERF_BIND"):
        asyncio.run(main(serf))
    user = Child("dnsmasq", ["sh", "-c", "echo 'dnsmasq: unknown user or group: nosuch'; exit 1"],
                 backoff=quick(), diagnose=diagnose_dnsmasq)  # fmt: skip
    with pytest.raises(ChildFatalError, match=r"no user .nosuch.*CLOUDAGENT_DNSMASQ_USER"):
        asyncio.run(main(user))
    missing = Child("serf", ["/nonexistent/serf", "agent"], backoff=quick())
    with pytest.raises(ChildFatalError, match="cannot start /nonexistent/serf"):
        asyncio.run(main(missing))


def test_an_ordinary_crash_loop_is_never_fatal() -> None:
    async def main() -> int:
        child = Child("flaky", ["sh", "-c", "echo oops; exit 1"], backoff=quick())
        task = asyncio.create_task(child.run())
        while child.exits < 5:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        child.stop_restarting()
        await asyncio.wait_for(task, 5)
        return child.exits

    assert asyncio.run(main()) >= 5


def test_dnsmasq_reload_asked_before_it_is_ready_is_sent_once_it_is(tmp_path: Path) -> None:
    from cloudagent.dns.dnsmasq import Dnsmasq  # noqa: PLC0415

    hosts = tmp_path / "hosts"
    hupped = tmp_path / "hupped"
    fake = tmp_path / "fake-dnsmasq"
    # Like dnsmasq: it reports reading the hosts file at start and on every SIGHUP; it takes a
    # moment to start, so a SIGHUP sent at once would arrive before its handler. In Python, not
    # sh: a shell cannot trap a signal that was ignored when it started (under nohup, SIGHUP).
    read = f"dnsmasq: read {hosts} - 1 names"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, signal, time\n"
        f"def hup(*_): pathlib.Path({str(hupped)!r}).touch(); print({read!r}, flush=True)\n"
        "signal.signal(signal.SIGHUP, hup)\n"
        "time.sleep(0.2)\n"
        f"print({read!r}, flush=True)\n"
        "while True: time.sleep(0.02)\n"
    )
    fake.chmod(0o755)

    async def main() -> bool:
        dnsmasq = Dnsmasq(str(fake), tmp_path / "dnsmasq.conf", hosts)
        task = asyncio.create_task(dnsmasq.run())
        while dnsmasq.child.pid is None:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        dnsmasq.reload()  # started, not ready yet: remembered, not lost
        for _ in range(300):
            if hupped.exists():
                break
            await asyncio.sleep(0.01)
        await dnsmasq.stop(timeout=1.0)
        await asyncio.wait_for(task, 5)
        return hupped.exists()

    assert asyncio.run(main())
