"""The measured scenarios: join, leave, crash, storm, steady state, render + reload."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.nodes import DNS_PORT, DOMAIN, Node, System
from bench.probe import PTR, A, Floor, Sweeper, nxdomain, ptr_name, resolved_a, resolved_ptr
from cloudagent.dns.render import render_dnsmasq_conf
from cloudagent.endpoint import Endpoint
from cloudagent.files import ManagedFile
from cloudagent.reconcile import MemberEvent, Reconciler

SWEEP_GAP = 0.002
QUIET = 2.5  # let Serf's coalesced events (1-3 s) pass between trials


def floor_sample(observers: Sequence[Node], count: int = 8) -> list[Node]:
    step = max(1, len(observers) // count)
    return list(observers[::step])[:count]


async def _dns_times(
    *,
    sweeper: Sweeper,
    observers: Sequence[Node],
    target: Node,
    t0: float,
    timeout: float,
    gone: bool,
) -> dict[int, float]:
    """Seconds after t0 at which each observer answers A and PTR for ``target`` (or, with
    ``gone``, NXDOMAIN for its name)."""
    done: dict[int, float] = {}
    reverse = ptr_name(target.address)
    while len(done) < len(observers) and time.monotonic() - t0 < timeout:
        waiting = [o for o in observers if o.index not in done]
        asks: list[tuple[Endpoint, str, int]] = []
        for o in waiting:
            asks.append((o.dns, target.name, A))
            if not gone:
                asks.append((o.dns, reverse, PTR))
        answers = sweeper.sweep(asks)
        now = time.monotonic() - t0
        step = 1 if gone else 2
        for i, o in enumerate(waiting):
            a = answers[i * step]
            if gone:
                ok = nxdomain(a)
            else:
                ok = resolved_a(a, target.address) and resolved_ptr(
                    answers[i * step + 1], target.name
                )
            if ok:
                done[o.index] = now
        await asyncio.sleep(SWEEP_GAP)
    return done


async def _trial(
    *,
    sweeper: Sweeper,
    observers: Sequence[Node],
    target: Node,
    t0: float,
    statuses: set[str],
    gone: bool,
    timeout: float,
) -> dict[str, Any]:
    sample = floor_sample(observers)
    floor = Floor([(o.rpc, o.rpc_token) for o in sample])
    await floor.open()
    try:
        floor_times, dns = await asyncio.gather(
            floor.wait_status(target.name, statuses, t0, timeout),
            _dns_times(
                sweeper=sweeper,
                observers=observers,
                target=target,
                t0=t0,
                timeout=timeout,
                gone=gone,
            ),
        )
    finally:
        await floor.close()
    deltas = [
        dns[o.index] - f
        for o, f in zip(sample, floor_times, strict=True)
        if f is not None and o.index in dns
    ]
    return {
        "floor": [f for f in floor_times if f is not None],
        "dns": list(dns.values()),
        "delta": deltas,
        "missing": len(observers) - len(dns),
        "missed": [o.name for o in observers if o.index not in dns],
    }


def running(system: System, exclude: int | None = None) -> list[Node]:
    """The running nodes with DNS of their own (observers), less ``exclude``."""
    return [n for n in system.nodes.values() if n.running and not n.bare and n.index != exclude]


async def join(system: System, sweeper: Sweeper, first: int, trials: int) -> list[dict[str, Any]]:
    results = []
    for k in range(trials):
        observers = running(system)
        t0 = time.monotonic()
        target = system.start(first + k, join=1)
        results.append(
            await _trial(
                sweeper=sweeper,
                observers=observers,
                target=target,
                t0=t0,
                statuses={"alive"},
                gone=False,
                timeout=30,
            )
        )
        await asyncio.sleep(QUIET)
    return results


async def _departures(
    system: System,
    sweeper: Sweeper,
    indices: Sequence[int],
    *,
    act: Callable[[Node], None],
    statuses: set[str],
    timeout: float,
) -> list[dict[str, Any]]:
    """Make each node go (``act``), then time Serf seeing it and DNS dropping it."""
    results = []
    for index in indices:
        target = system.nodes[index]
        observers = running(system, exclude=index)
        t0 = time.monotonic()
        act(target)
        results.append(
            await _trial(
                sweeper=sweeper,
                observers=observers,
                target=target,
                t0=t0,
                statuses=statuses,
                gone=True,
                timeout=timeout,
            )
        )
        await asyncio.sleep(QUIET)
    return results


async def leave(system: System, sweeper: Sweeper, indices: Sequence[int]) -> list[dict[str, Any]]:
    """Graceful leave: NXDOMAIN everywhere. A *leaving* member is still served (DESIGN): the
    floor is Serf saying *left*."""
    return await _departures(
        system, sweeper, indices, act=system.leave, statuses={"left", "absent"}, timeout=30
    )


async def crash(system: System, sweeper: Sweeper, indices: Sequence[int]) -> list[dict[str, Any]]:
    """SIGKILL: time to marked failed (floor) and to removal from DNS (after the grace)."""
    return await _departures(
        system,
        sweeper,
        indices,
        act=system.crash,
        statuses={"failed", "absent"},
        timeout=60 + system.grace,
    )


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def storm(system: System, sweeper: Sweeper, first: int, count: int) -> dict[str, Any]:
    """``count`` bare serf agents start at once; until every observer resolves every new
    name. (Bare: the storm lasts as long as Serf takes, see ``System.start_serf``.)"""
    observers = running(system)
    before = {o.index: cpu_seconds(system.pids(o).get(system.agent_program, 0)) for o in observers}
    wall0 = time.time()
    t0 = time.monotonic()
    new = [system.start_serf(first + k, join=1) for k in range(count)]
    sample = floor_sample(observers)
    floor = Floor([(o.rpc, o.rpc_token) for o in sample])
    await floor.open()
    floor_task = asyncio.gather(*(floor.wait_status(n.name, {"alive"}, t0, 120) for n in new))
    pending = {(o.index, n.index) for o in observers for n in new}
    by_index = {n.index: n for n in [*observers, *new]}
    converged = None
    while pending and time.monotonic() - t0 < 120:
        pairs = sorted(pending)
        asks = [(by_index[o].dns, by_index[n].name, A) for o, n in pairs]
        answers = sweeper.sweep(asks)
        for (o, n), answer in zip(pairs, answers, strict=True):
            if resolved_a(answer, by_index[n].address):
                pending.discard((o, n))
        if not pending:
            converged = time.monotonic() - t0
        await asyncio.sleep(0.01)
    floors = await floor_task
    await floor.close()
    floor_all = max((t for per_node in floors for t in per_node if t is not None), default=None)
    await asyncio.sleep(QUIET)
    writes = [system.writes(o, wall0) for o in observers]
    cpu = [
        cpu_seconds(system.pids(o).get(system.agent_program, 0)) - before[o.index]
        for o in observers
    ]
    return {
        "nodes": count,
        "floor_all": floor_all,
        "converged": converged,
        "after_floor": None if converged is None or floor_all is None else converged - floor_all,
        "writes_per_node": writes,
        "cpu_per_agent": cpu,
        "unresolved_pairs": len(pending),
    }


def steady(system: System, seconds: float) -> dict[str, Any]:
    """RSS and CPU % per program over an idle window."""
    nodes = running(system)
    pids = [system.pids(n) for n in nodes]
    start = [{p: cpu_seconds(pid) for p, pid in ps.items()} for ps in pids]
    time.sleep(seconds)
    result: dict[str, dict[str, list[float]]] = {}
    for ps, before in zip(pids, start, strict=True):
        for program, pid in ps.items():
            entry = result.setdefault(program, {"rss_mb": [], "cpu_percent": []})
            entry["rss_mb"].append(rss_mb(pid))
            entry["cpu_percent"].append(100 * (cpu_seconds(pid) - before[program]) / seconds)
    return result


def _member(name: str, octets: Sequence[int]) -> dict[str, object]:
    return {"Name": name, "Addr": bytes(octets), "Port": 7946, "Status": "alive", "Tags": {}}


def _dnsmasq(base: Path, endpoint: Endpoint, hosts: Path) -> subprocess.Popen[bytes]:
    conf = base / "dnsmasq.conf"
    conf.write_text(
        render_dnsmasq_conf(
            listen=endpoint,
            hosts_file=hosts,
            domain=DOMAIN,
            upstreams=[],
            user="nobody" if os.geteuid() == 0 else None,
        )
    )
    return subprocess.Popen(
        ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _change(
    reconciler: Reconciler,
    members: list[dict[str, object]],
    new: int,
    out: dict[str, list[float]],
    *,
    full: bool,
) -> tuple[str, str, str]:
    """One new member: in a full member list (timed from scratch and incrementally), or from
    one EventMemberJoin line. Returns its name, its address and the hosts text."""
    octets = (10, 250, (new >> 8) & 255, new & 255)
    name, address = f"new{new}", ".".join(map(str, octets))
    if full:
        members[random.randrange(len(members))] = _member(name, octets)  # noqa: S311
        t0 = time.perf_counter()
        reconciler.rebuild(members, time.time())
        t1 = time.perf_counter()
        text = reconciler.step(members, now=time.time()).hosts_text
        out["scratch_ms"].append(1000 * (t1 - t0))
        out["render_ms"].append(1000 * (time.perf_counter() - t1))
        return name, address, text
    t0 = time.perf_counter()
    cycle = reconciler.apply_event(MemberEvent("join", name, address), time.time())
    if cycle is None:
        raise RuntimeError(f"the fast path refused {name} {address}")
    out["event_ms"].append(1000 * (time.perf_counter() - t0))
    return name, address, cycle.hosts_text


def _totals(out: dict[str, list[float]]) -> None:
    """Old and new paths end to end, per change: cycle + write + SIGHUP until answered
    (even trials: a full member list; odd trials: one log line)."""
    write_reload = [a + b for a, b in zip(out["write_ms"], out["reload_ms"], strict=True)]
    out["write_reload_ms"] = write_reload
    out["total_ms"] = [a + b for a, b in zip(out["render_ms"], write_reload[::2], strict=True)]
    out["fast_total_ms"] = [a + b for a, b in zip(out["event_ms"], write_reload[1::2], strict=True)]
    out["scratch_total_ms"] = [
        a + b + c
        for a, b, c in zip(
            out["scratch_ms"], out["write_dirsync_ms"][::2], write_reload[::2], strict=True
        )
    ]


def render_reload(
    base: Path, sizes: Sequence[int], trials: int = 5, listen: str = "127.0.200.1"
) -> dict[str, Any]:
    """One change at K members, step by step, without Serf: the view from scratch (the old
    path, now the periodic check), the incremental cycle from a full member list, the fast
    path from one log line, the write with and without the directory fsync, and SIGHUP until
    the new name answers at one loopback dnsmasq."""
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)  # noqa: S103 - dnsmasq (nobody) reads the hosts file
    endpoint = Endpoint(listen, DNS_PORT)
    hosts = ManagedFile(base / "hosts", sync_dir=False)
    durable = ManagedFile(base / "hosts-durable")
    hosts.write("")
    dnsmasq = _dnsmasq(base, endpoint, hosts.path)
    sweeper = Sweeper(timeout=2.0)
    results: dict[str, Any] = {}

    def answered(name: str, address: str, since: float) -> float:
        while not resolved_a(sweeper.sweep([(endpoint, f"{name}.{DOMAIN}", A)])[0], address):
            if time.perf_counter() - since > 10:
                break
        return time.perf_counter()

    try:
        time.sleep(0.3)
        for size in sizes:
            members = [
                _member(f"h{i}", (10, (i >> 16) & 255, (i >> 8) & 255, i & 255))
                for i in range(size)
            ]
            reconciler = Reconciler(DOMAIN, grace=60, check_every=1e12)
            reconciler.step(members, now=time.time())  # the first cycle builds the view
            steps = ("scratch_ms", "render_ms", "event_ms", "write_dirsync_ms", "write_ms")
            out: dict[str, list[float]] = {k: [] for k in (*steps, "reload_ms")}
            for trial in range(2 * trials):  # even: full list, odd: log line
                name, address, text = _change(
                    reconciler, members, size + trial, out, full=trial % 2 == 0
                )
                t0 = time.perf_counter()
                durable.write(text)
                t1 = time.perf_counter()
                hosts.write(text)
                dnsmasq.send_signal(signal.SIGHUP)
                t2 = time.perf_counter()
                t3 = answered(name, address, t2)
                out["write_dirsync_ms"].append(1000 * (t1 - t0))
                out["write_ms"].append(1000 * (t2 - t1))
                out["reload_ms"].append(1000 * (t3 - t2))
            _totals(out)
            results[str(size)] = out
    finally:
        sweeper.close()
        dnsmasq.terminate()
        dnsmasq.wait(10)
    return results
