"""Container start -> served: ``docker start`` of a new node of our image until (a) its own serf
lists it, (b) every other node's serf lists it (the floor), (c) every other node's dnsmasq
answers A and PTR for it.

How it observes: each container's serf RPC and dnsmasq listen on the container's own loopback
(closed by default), so the bench opens its probe sockets INSIDE each container's network
namespace (setns(2) on one thread, socket(2), back to ours: a socket stays in the namespace it
was made in) and then polls them from this one process every few milliseconds. No
``docker exec`` (a new process per probe, 50-200 ms on a loaded machine, far coarser than the
figure measured) and nothing published on the bridge. Needs root (setns) and a Docker engine;
without either the scenario is skipped and the report says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import select
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import docker.errors

from bench.probe import PTR, A, parse, ptr_name, query, resolved_a, resolved_ptr
from cloudagent.config import RPC_TOKEN_FILE
from cloudagent.dev.launch import ClusterSpec, Launcher
from cloudagent.endpoint import Endpoint
from cloudagent.secret import Secret
from cloudagent.serf.rpc import SerfError, SerfRPC

RPC = Endpoint("127.0.0.1", 7373)
RPC_AUTH_FILE = Path("var/lib/cloudagent") / RPC_TOKEN_FILE  # in the image's state dir
CLONE_NEWNET = 0x40000000
# Before each start: Serf's coalesced events of the last change (1-3 s) and the agent's pacing
# (back to acting at once after 3 s without a write) have passed, as in the loopback trials.
QUIET = 5.0
_libc = ctypes.CDLL(None, use_errno=True)


def unavailable() -> str | None:
    """Why the scenario cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "not root (the probes enter the containers' network namespaces with setns)"
    try:
        docker.from_env().ping()
    except (docker.errors.DockerException, OSError) as exc:
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:80]})"
    return None


@contextlib.contextmanager
def _in_netns(pid: int) -> Iterator[None]:
    # Network namespaces are per thread: only this thread moves, and it always moves back.
    with open("/proc/thread-self/ns/net") as home, open(f"/proc/{pid}/ns/net") as target:
        if _libc.setns(target.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into pid {pid}'s network namespace")
        try:
            yield
        finally:
            if _libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the bench's network namespace")


def socket_in(pid: int, kind: int, connect: tuple[str, int]) -> socket.socket:
    """A socket made in ``pid``'s network namespace, connected to ``connect`` there."""
    with _in_netns(pid):
        sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.settimeout(1.0)
        sock.connect(connect)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _rpc_auth(pid: int) -> Secret:
    # The agent generates it at start; root reads it through the container's root directory.
    return Secret((Path(f"/proc/{pid}/root") / RPC_AUTH_FILE).read_text().strip())


async def rpc_in(pid: int) -> SerfRPC:
    """The serf RPC of the container whose init is ``pid``, authenticated with its token."""
    auth = _rpc_auth(pid)
    sock = socket_in(pid, socket.SOCK_STREAM, (RPC.host, RPC.port))
    return await SerfRPC.connect(RPC, auth, timeout=5, sock=sock)


async def first_listed(client: SerfRPC, name: str, t0: float, timeout: float) -> float | None:
    """Seconds after ``t0`` at which ``client``'s serf first lists ``name`` alive."""
    while time.monotonic() - t0 < timeout:
        try:
            members = await client.members_filtered(name=re.escape(name))
        except SerfError:
            return None
        if members and members[0].get("Status") == "alive":
            return time.monotonic() - t0
        await asyncio.sleep(0.002)
    return None


async def own_listing(pid: int, name: str, t0: float, timeout: float) -> float | None:
    """(a): seconds after ``t0`` at which the new node's own serf lists itself."""
    while time.monotonic() - t0 < timeout:
        try:
            client = await rpc_in(pid)
        except (OSError, SerfError):  # no token or no RPC yet: the agent is still starting
            await asyncio.sleep(0.005)
            continue
        try:
            return await first_listed(client, name, t0, timeout)
        finally:
            await client.close()
    return None


async def served(
    dns: list[socket.socket], fqdn: str, address: str, t0: float, timeout: float
) -> list[float | None]:
    """(c): seconds after ``t0`` at which each dnsmasq first answered both A and PTR."""
    done: list[float | None] = [None] * len(dns)
    qid = 0
    while time.monotonic() - t0 < timeout and None in done:
        asks: dict[int, tuple[int, int]] = {}
        for index, sock in enumerate(dns):
            if done[index] is None:
                for qtype, name in ((A, fqdn), (PTR, ptr_name(address))):
                    qid = (qid + 1) & 0xFFFF
                    asks[qid] = (index, qtype)
                    with contextlib.suppress(OSError):
                        sock.send(query(qid, name, qtype))
        good: dict[int, set[int]] = {}
        deadline = time.monotonic() + 0.2
        while asks and time.monotonic() < deadline:
            ready, _, _ = select.select(dns, [], [], max(0.0, deadline - time.monotonic()))
            for sock in ready:
                with contextlib.suppress(OSError):
                    parsed = parse(sock.recv(4096))
                    if parsed and parsed[0] in asks:
                        index, qtype = asks.pop(parsed[0])
                        ok = (resolved_a if qtype == A else resolved_ptr)(
                            parsed[1], address if qtype == A else fqdn
                        )
                        if ok:
                            good.setdefault(index, set()).add(qtype)
            await asyncio.sleep(0)
        now = time.monotonic() - t0
        for index, types in good.items():
            if types == {A, PTR}:
                done[index] = now
        await asyncio.sleep(0.003)
    return done


async def trial(
    launcher: Launcher, spec: ClusterSpec, index: int, others: list[int]
) -> dict[str, Any]:
    """Start node ``index`` and time (a), (b), (c) against the running nodes ``others``."""
    server = launcher.nodes(spec.prefix)[0]
    container = launcher.create(
        spec, index, server.address, launcher.key_file(spec.prefix), ensemble=index
    )
    # The serf node name is the FQDN (hostname -f in the container).
    name, fqdn = f"{spec.prefix}{index}", f"{spec.prefix}{index}.{spec.domain}"
    clients = [await rpc_in(pid) for pid in others]
    dns = [socket_in(pid, socket.SOCK_DGRAM, ("127.0.0.1", 53)) for pid in others]
    try:
        t0 = time.monotonic()
        container.start()
        started = time.monotonic() - t0
        container.reload()
        pid, address = container.attrs["State"]["Pid"], ""
        while not address:
            nets = container.attrs["NetworkSettings"]["Networks"]
            address = nets.get(spec.network, {}).get("IPAddress", "")
            if not address:
                container.reload()
        own, floor, answered = await asyncio.gather(
            own_listing(pid, fqdn, t0, 60),
            asyncio.gather(*(first_listed(c, fqdn, t0, 60) for c in clients)),
            served(dns, fqdn, address, t0, 60),
        )
    finally:
        for client in clients:
            await client.close()
        for sock in dns:
            sock.close()
    if own is None or None in floor or None in answered:
        raise RuntimeError(
            f"{name}: not listed or not served everywhere within 60 s "
            f"(own {own}, serf {floor}, dns {answered})"
        )
    b, c = max(t for t in floor if t), max(t for t in answered if t)
    return {
        "start_call": started,
        "a": own,
        "b": b,
        "c": c,
        "c_minus_b": c - b,
        "b_each": floor,  # per observer, in the order of ``others``
        "c_each": answered,
    }


def containers(
    image: str, count: int, trials: int, prefix: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """``count - 1`` running nodes, then ``trials`` times: start the ``count``-th, time it,
    stop it (a graceful leave, so the cluster is back at ``count - 1``)."""
    launcher = Launcher(say=lambda line: None)
    spec = ClusterSpec(nodes=count - 1, image=image, prefix=prefix, ambari="off")
    say(f"containers: {count - 1} nodes of {image} (prefix {prefix})")
    try:
        launcher.up(spec, timeout=180)
        spec = replace(spec, rack=launcher.rack(spec))
        pids = [c.attrs["State"]["Pid"] for c in launcher.containers(prefix)]
        runs = []
        for n in range(trials):
            index = count + n
            time.sleep(QUIET)
            runs.append(asyncio.run(trial(launcher, spec, index, pids)))
            say(
                "containers: start -> (a) {a:.3f}s (b) {b:.3f}s (c) {c:.3f}s "
                "(c)-(b) {c_minus_b:.3f}s".format(**runs[-1])
            )
            launcher.client.containers.get(f"{prefix}{index}").stop(timeout=20)
    finally:
        launcher.down(prefix)
    keys = ("start_call", "a", "b", "c", "c_minus_b")
    return {
        "count": count,
        "image": image,
        "image_mb": launcher.client.images.get(image).attrs["Size"] / 1e6,
        "trials": runs,
        **{f"{k}_p50": statistics.median(r[k] for r in runs) for k in keys},
        "c_minus_b_max": max(r["c_minus_b"] for r in runs),
    }


def image_facts(tag: str) -> dict[str, Any]:
    """The image's size and its layers (``docker history``), newest first."""
    image = docker.from_env().images.get(tag)
    layers = [
        {"created_by": str(h.get("CreatedBy") or h.get("Comment") or ""), "mb": h["Size"] / 1e6}
        for h in image.history()
    ]
    return {"tag": tag, "mb": image.attrs["Size"] / 1e6, "layers": layers}


def verdict_rows(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, limit, measured, met) for the image size and container start -> served."""
    rows: list[tuple[str, str, str, bool | None]] = []
    image = result.get("image")
    if image:
        mb = image["mb"]
        rows.append(("agent image size", "≤ 200 MB", f"{mb:.0f}", mb <= 200))
    measured = result.get("containers")
    if measured:
        skipped = measured.get("skipped")
        over: float | None = None if skipped else measured["c_minus_b_p50"]
        rows.append(
            (
                f"container start → served (c) − (b) p50 ({measured.get('count', '–')} containers)",
                "≤ 100 ms",
                f"skipped: {skipped}" if over is None else f"{1000 * over:.0f}",
                None if over is None else 1000 * over <= 100,
            )
        )
    return rows


def _layer(created_by: str) -> str:
    text = created_by.replace("/bin/sh -c #(nop) ", "").replace("|", "/").strip()
    return (text[:70] + "…") if len(text) > 70 else (text or "(base, imported)")


def tables(result: dict[str, Any]) -> list[str]:
    """Markdown: the image's layers and the container start -> served trials."""
    lines: list[str] = []
    image = result.get("image")
    if image:
        lines += [
            "",
            f"## Image ({image['tag']}: {image['mb']:.0f} MB)",
            "",
            "`docker history`, newest layer first; layers of 0 MB (metadata) left out.",
            "",
            "| layer | MB |",
            "|---|---|",
        ]
        lines += [
            f"| `{_layer(layer['created_by'])}` | {layer['mb']:.1f} |"
            for layer in image["layers"]
            if layer["mb"] >= 0.05
        ]
    measured = result.get("containers")
    if measured and not measured.get("skipped"):
        lines += [
            "",
            f"## Container start → served ({measured['count']} containers of our image)",
            "",
            "Seconds from `docker start` of the new node to (a) its own serf listing it alive, "
            "(b) every other node's serf listing it (the floor), (c) every other node's dnsmasq "
            "answering A and PTR for it; probes inside each container's network namespace, "
            "polled every 2–3 ms (bench/containers.py).",
            "",
            "| trial | docker start returns | (a) own serf | (b) all serfs | (c) all dnsmasqs | "
            "(c) − (b) ms |",
            "|---|---|---|---|---|---|",
        ]
        for number, t in enumerate(measured["trials"], 1):
            lines.append(
                f"| {number} | {t['start_call']:.2f} | {t['a']:.2f} | {t['b']:.2f} | "
                f"{t['c']:.2f} | {1000 * t['c_minus_b']:.0f} |"
            )
        lines.append(
            f"| p50 | {measured['start_call_p50']:.2f} | {measured['a_p50']:.2f} | "
            f"{measured['b_p50']:.2f} | {measured['c_p50']:.2f} | "
            f"{1000 * measured['c_minus_b_p50']:.0f} |"
        )
    elif measured:
        lines += ["", f"Container start → served: skipped ({measured['skipped']})."]
    return lines
