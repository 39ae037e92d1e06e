"""``make demo``: a three-node cloudagent cluster on loopback, no Docker needed.

Every node runs its own serf, dnsmasq and cloudagent on 127.0.0.11-13; node1 is the server
role and runs the Ambari emulator, every node an emulated ambari-agent. The demo shows the
member table, resolves every name (A) and address (PTR) at every node's dnsmasq, follows the
blueprint's provisioning to the end, lets one node leave, shows its name gone everywhere, and
tears everything down.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cloudagent.ambari.client import AmbariClient
from cloudagent.cli import main as cli_main
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.dns.query import DNSError
from cloudagent.secret import Secret

SIZE = 3


def say(text: str = "") -> None:
    """Print one line of the demo's narration at once."""
    print(text, flush=True)


def _show(answer: Callable[[], list[str] | None]) -> str:
    try:
        found = answer()
    except DNSError as exc:
        return "REFUSED" if "REFUSED" in str(exc) else type(exc).__name__
    return ", ".join(found) if found else "NXDOMAIN"


def _forward(observer: LocalNode, target: LocalNode) -> str:
    return _show(lambda: observer.dns.addresses(target.fqdn))


def _reverse(observer: LocalNode, target: LocalNode) -> str:
    return _show(lambda: observer.dns.names(target.address))


def matrix(targets: list[LocalNode], observers: list[LocalNode], present: bool = True) -> bool:
    """Print what each observer answers for each target; True when all are as expected.

    A present target must resolve both ways; a departed one must be NXDOMAIN by name (its
    address is then no longer ours: with no upstream, dnsmasq refuses the PTR query).
    """
    header = "".join(f"{'at ' + o.name:<26}" for o in observers)
    say(f"  {'name / address':<34}{header}")
    ok = True
    for t in targets:
        rows = [
            (t.fqdn, _forward, {t.address} if present else {"NXDOMAIN"}),
            (t.address, _reverse, {t.fqdn} if present else {"NXDOMAIN", "REFUSED"}),
        ]
        for label, query, expected in rows:
            cells = []
            for observer in observers:
                shown = query(observer, t)
                good = shown in expected
                ok = ok and good
                cells.append(f"{('ok ' if good else 'BAD ') + shown:<26}")
            say(f"  {label:<34}{''.join(cells)}".rstrip())
    return ok


def services(nodes: list[LocalNode]) -> bool:
    """Print ``ambari.<domain>`` (A) and ``_ambari._tcp.<domain>`` (SRV) at every node."""
    import dns.message  # noqa: PLC0415 - dnspython only for the demo's queries
    import dns.query  # noqa: PLC0415

    server, ok = nodes[0], True
    name, srv_name = f"ambari.{server.domain}", f"_ambari._tcp.{server.domain}"
    for node in nodes:
        found = _show(lambda node=node: node.dns.addresses(name))  # type: ignore[misc]
        query = dns.message.make_query(srv_name, "SRV")
        reply = dns.query.udp(query, node.address, port=node.dns_port, timeout=2.0)
        records = [rr.to_text() for rrset in reply.answer for rr in rrset]
        good = found == server.address and records == [f"0 10 8080 {server.fqdn}."]
        ok = ok and good
        say(
            f"  at {node.name}: {name} -> {found}; {srv_name} SRV -> {', '.join(records) or '-'}"
            f"  {'ok' if good else 'BAD'}"
        )
    return ok


def _cli(args: list[str], node: LocalNode) -> str:
    out = io.StringIO()
    cli_main(args, environ=node.env_for_cli(), stdout=out, stderr=out)
    return out.getvalue().strip()


def provision(nodes: list[LocalNode]) -> None:
    """Follow the server role's provisioning through ``cloudagent status`` on another node."""
    server = nodes[0]
    say(f"== Ambari: {server.name} runs the emulator; every node an agent pointed at it ==")
    say("  (cloudagent status, read from node2's serf; the server publishes it in its tags)")
    last = ""
    started = time.monotonic()
    while time.monotonic() - started < 60:
        line = _cli(["status"], nodes[1])
        if line != last:
            say(f"  {time.monotonic() - started:5.1f}s  {line}")
            last = line
        if " completed" in line or " failed" in line or " error" in line:
            break
        time.sleep(0.3)
    client = AmbariClient(f"http://{server.address}:8080", password=Secret("admin"))
    registered = sorted(h.name for h in client.hosts())
    served = sorted(n.fqdn for n in nodes)
    say(f"  hosts registered in Ambari: {', '.join(registered)}")
    say(
        f"  the names our DNS serves:   {', '.join(served)}"
        f"  -> {'the same' if registered == served else 'DIFFERENT'}"
    )
    if " completed" not in last or registered != served:
        raise RuntimeError("provisioning did not complete with every host under its DNS name")
    say()


def run(base: Path) -> int:
    """Run the demo in ``base``; returns the exit status."""
    port = 53 if os.geteuid() == 0 else 5353
    cluster = LocalCluster(
        base,
        domain="cluster.internal",
        dns_port=port,
        grace="30s",
        ambari={
            "EXPECTED_HOST_COUNT": str(SIZE),
            "BLUEPRINT": "multi-node-hdfs-yarn",
            "CLUSTER_NAME": "demo",
        },
    )
    say(f"== cloudagent demo: {SIZE} nodes on loopback (serf :7946, dnsmasq :{port}) ==")
    started = time.monotonic()
    try:
        nodes = cluster.start(SIZE)
        for node in nodes:
            say(f"  started {node.fqdn:<24} {node.address}  (logs: {node.log_file})")
        wait_for(
            lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
            timeout=30,
            what="every node resolving every node",
        )
        say(f"  every node resolves every node after {time.monotonic() - started:.1f}s\n")

        say("== members, as node1's serf knows them (cloudagent members) ==")
        say("  " + _cli(["members"], nodes[0]).replace("\n", "\n  ") + "\n")

        say("== forward (A) and reverse (PTR) answers at every node's dnsmasq ==")
        all_ok = matrix(nodes, nodes)
        say()

        say("== service names: the server role offers ambari (8080) ==")
        all_ok = services(nodes) and all_ok
        say()

        provision(nodes)

        leaver = nodes[-1]
        rest = nodes[:-1]
        say(f"== {leaver.name} leaves gracefully (SIGTERM -> serf leave) ==")
        left_at = time.monotonic()
        if leaver.process is not None:
            leaver.process.send_signal(signal.SIGTERM)
        wait_for(
            lambda: cluster.gone_everywhere(leaver, rest),
            timeout=20,
            interval=0.01,
            what=f"{leaver.fqdn} gone everywhere",
        )
        gone = time.monotonic() - left_at
        status = leaver.stop()
        say(
            f"  {leaver.fqdn} is NXDOMAIN at {', '.join(n.name for n in rest)} {gone:.2f}s "
            f"after SIGTERM; {leaver.name} exited with status {status}"
        )
        all_ok = matrix([leaver], rest, present=False) and all_ok
        say()
    finally:
        say("== tearing down ==")
        cluster.stop()
    leftovers = [n.name for n in cluster.nodes if n.running]
    say(
        f"  all nodes stopped{'' if not leftovers else ' except ' + ', '.join(leftovers)}; "
        f"demo took {time.monotonic() - started:.1f}s"
    )
    if not all_ok:
        say("demo FAILED: some answers were wrong (see the node logs above)")
        return 1
    return 0


def main() -> int:
    """``make demo``: the demo in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="cloudagent-demo-") as tmp:
        try:
            return run(Path(tmp))
        except Exception as exc:  # one readable line for a newcomer; logs hold the rest
            say(f"demo failed: {exc}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
