"""SIMULATED membership at scale: a real cloudagent and its real dnsmasq, fed by the
synthetic Serf (bench/synthetic.py) with 10k-50k members and steady churn.

Per change: seconds from the synthetic serf making it (its journal, CLOCK_MONOTONIC) to the
agent's dnsmasq answering it (A and PTR for a join, NXDOMAIN for a leave). Also the agent's
writes, CPU and RSS over the churn window.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.nodes import DNS_PORT, DOMAIN
from bench.probe import PTR, A, Sweeper, nxdomain, ptr_name, resolved_a, resolved_ptr
from bench.scenarios import cpu_seconds, rss_mb
from bench.synthetic import SELF_OCTET
from cloudagent.endpoint import Endpoint

ROOT = Path(__file__).resolve().parent.parent


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _served(hosts: Path) -> int:
    try:
        return sum(1 for ln in hosts.read_text().splitlines() if ln and not ln.startswith("#"))
    except OSError:
        return 0


def _start(base: Path, size: int, rate: float, net: int, grace: float) -> subprocess.Popen[bytes]:
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)  # noqa: S103 - dnsmasq (nobody) reads below it
    wrapper = base / "serf-synthetic"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m bench.synthetic "$@"\n')
    wrapper.chmod(0o755)
    address = f"127.{net}.{SELF_OCTET}.1"
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        CLOUDAGENT_NODE_NAME=f"sim.{DOMAIN}",
        MYDOMAIN=DOMAIN,
        DNS_UPSTREAM="none",
        CLOUDAGENT_SERF_BIN=str(wrapper),
        CLOUDAGENT_SERF_BIND=f"{address}:7946",
        CLOUDAGENT_SERF_RPC=f"{address}:7373",
        CLOUDAGENT_DNS_LISTEN=f"{address}:{DNS_PORT}",
        CLOUDAGENT_HTTP_LISTEN=f"{address}:8301",
        CLOUDAGENT_STATE_DIR=str(base / "state"),
        CLOUDAGENT_FAILED_GRACE=f"{grace:g}s",
        CLOUDAGENT_AMBARI="off",
        CLOUDAGENT_LOG_LEVEL="INFO",
        SYNTH_MEMBERS=str(size),
        SYNTH_PREFIX=f"127.{net}",
        SYNTH_RATE=f"{rate:g}",
        SYNTH_JOURNAL=str(base / "journal"),
    )
    with (base / "agent.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cloudagent", "run", "agent"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_served(hosts: Path, count: int, timeout: float) -> float:
    started = time.monotonic()
    while _served(hosts) < count:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"simulated: {_served(hosts)} of {count} members served")
        time.sleep(0.1)
    return time.monotonic() - started


def _follow(
    journal: Path, dns: Endpoint, duration: float, settle: float
) -> tuple[list[float], int, int]:
    """Latency of every change in the journal until ``duration`` has passed; then up to
    ``settle`` more seconds for the last ones. Returns latencies, changes, unanswered."""
    sweeper = Sweeper(timeout=0.05)
    pending: list[tuple[float, str, str, str]] = []
    latencies: list[float] = []
    changes = 0
    offset = 0
    started = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now - started < duration and journal.exists():
                with journal.open(encoding="utf-8") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                complete = chunk[: chunk.rfind("\n") + 1]
                offset += len(complete.encode())
                for line in complete.splitlines():
                    made, kind, name, address = line.split()
                    pending.append((float(made), kind, name, address))
                    changes += 1
            elif not pending or now - started > duration + settle:
                break
            asks: list[tuple[Endpoint, str, int]] = []
            for _, kind, name, address in pending:
                asks.append((dns, name, A))
                asks.append((dns, ptr_name(address) if kind == "join" else name, PTR))
            answers = sweeper.sweep(asks)
            seen = time.monotonic()
            still = []
            for i, change in enumerate(pending):
                stamp, kind, name, address = change
                a, second = answers[2 * i], answers[2 * i + 1]
                done = (
                    resolved_a(a, address) and resolved_ptr(second, name)
                    if kind == "join"
                    else nxdomain(a)
                )
                if done:
                    latencies.append(seen - stamp)
                else:
                    still.append(change)
            pending = still
            time.sleep(0.002)
    finally:
        sweeper.close()
    return latencies, changes, len(pending)


def simulated(
    base: Path, sizes: list[int], *, rate: float, duration: float, net: int, grace: float = 3.0
) -> dict[str, Any]:
    """Steady churn of ``rate`` changes/s for ``duration`` s over each simulated size."""
    results: dict[str, Any] = {}
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)  # noqa: S103 - dnsmasq (nobody) reads below it
    for size in sizes:
        where = base / f"sim{size}"
        agent = _start(where, size, rate, net, grace)
        dns = Endpoint(f"127.{net}.{SELF_OCTET}.1", DNS_PORT)
        try:
            hosts = where / "state" / "dns" / "hosts"
            ready = _wait_served(hosts, size + 1, timeout=120 + size / 200)
            time.sleep(2.0)  # the first full cycles and the resync settle
            cpu0, wall0, t0 = cpu_seconds(agent.pid), time.time(), time.monotonic()
            # The churn starts now (the synthetic serf's pid file is the agent's serf.pid).
            os.kill(int((where / "state" / "serf.pid").read_text()), signal.SIGUSR1)
            latencies, changes, unanswered = _follow(where / "journal", dns, duration, 10.0)
            cpu = 100 * (cpu_seconds(agent.pid) - cpu0) / (time.monotonic() - t0)
            log = (where / "agent.log").read_text(errors="replace")
            writes = sum(1 for ln in log.splitlines() if "wrote hosts" in ln)
            results[str(size)] = {
                "simulated": True,
                "rate": rate,
                "duration_s": duration,
                "ready_s": ready,
                "changes": changes,
                "unanswered": unanswered,
                "latency_s": latencies,
                "writes": writes,
                "cpu_percent": cpu,
                "rss_mb": rss_mb(agent.pid),
                "rss_max_mb": _hwm_mb(agent.pid),
                "since_wall": wall0,
            }
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
    return results
