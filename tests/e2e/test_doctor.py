"""``cloudagent doctor`` in real containers: clean nodes pass, broken ones fail with the right
line, and ``--all`` finds them from another node."""

from __future__ import annotations

import json
import os

from cloudagent.dev.launch import ClusterSpec, Launcher

CHECKS = 9  # every check but the JVM one, which the image skips (it has no JRE)


def doctor(launcher: Launcher, name: str, *args: str) -> tuple[int, str]:
    return launcher.exec(name, ["cloudagent", "doctor", *args])


def test_doctor_passes_clean_nodes_and_names_what_is_broken(launcher: Launcher, image: str) -> None:
    prefix = f"ops-doctor{os.getpid()}-n"
    spec = ClusterSpec(nodes=3, image=image, prefix=prefix, ambari="off", dns_upstream="none")
    try:
        n1, n2, n3 = launcher.up(spec, timeout=180)
        for node in (n1, n2, n3):
            code, out = doctor(launcher, node.name)
            assert code == 0, out
            assert out.splitlines()[-1] == f"{node.fqdn}: {CHECKS}/{CHECKS} checks passed"
        code, out = doctor(launcher, n1.name, "--json")
        assert code == 0
        assert json.loads(out)["failed"] == 0

        # n2: the short name first in /etc/hosts (Docker bind-mounts it: rewrite in place).
        short = n2.fqdn.split(".")[0]
        launcher.exec(n2.name, ["sh", "-c", (
            f"grep -v '^{n2.address}' /etc/hosts > /tmp/h; "
            f"echo '{n2.address} {short} {n2.fqdn}' >> /tmp/h; cat /tmp/h > /etc/hosts"
        )])  # fmt: skip
        code, out = doctor(launcher, n2.name)
        assert code == 1
        assert "FAIL etc-hosts: /etc/hosts line " in out
        assert (
            f"lists '{short}' before the FQDN; fix: write it as '{n2.address} {n2.fqdn} {short}'"
            in out
        )

        # n3: a wrong PTR for its address (another name first for it, as Docker's resolver gives).
        launcher.exec(n3.name, ["sh", "-c", (
            f"(echo '{n3.address} {n3.name}.{prefix}-cloudagent'; cat /etc/hosts) > /tmp/h; "
            "cat /tmp/h > /etc/hosts"
        )])  # fmt: skip
        code, out = doctor(launcher, n3.name)
        assert code == 1
        assert (
            f"FAIL resolver-reverse: getent hosts {n3.address} gives "
            f"{n3.address} {n3.name}.{prefix}-cloudagent, want {n3.fqdn} first; fix: "
        ) in out

        # --all from the clean node finds both, through the Serf query every agent answers.
        code, out = doctor(launcher, n1.name, "--all")
        assert code == 1, out
        rows = {line.split()[0]: line for line in out.splitlines()[1:]}
        assert rows[n1.fqdn].split()[1] == f"{CHECKS}/{CHECKS}"
        assert rows[n1.fqdn].split()[2] == "-"
        assert "FAIL" in rows[n2.fqdn] and "FAIL" in rows[n3.fqdn]
        assert int(rows[n2.fqdn].split()[1].split("/")[0]) < CHECKS
    finally:
        launcher.down(prefix)
