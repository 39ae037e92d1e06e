"""Gossip key rotation on three real serf agents, one of them down during the rotation."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from cloudagent.cli import main
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.keyring import fingerprint, keyring_path
from tests.integration.conftest import MakeCluster


def keygen() -> str:
    return subprocess.run(
        ["serf", "keygen"], capture_output=True, text=True, check=True
    ).stdout.strip()


def keys(node: LocalNode, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["keys", *args], environ=node.env_for_cli(), stdout=out)
    return code, out.getvalue()


def health(node: LocalNode) -> tuple[int, str]:
    out = io.StringIO()
    return main(["health"], environ=node.env_for_cli(), stdout=out), out.getvalue()


def resolves(cluster: LocalCluster, nodes: list[LocalNode]) -> bool:
    return all(cluster.resolves_everywhere(t, nodes) for t in nodes)


def test_rotation_with_a_node_down_then_its_repair(
    make_cluster: MakeCluster, open_tmp: Path
) -> None:
    old, new = keygen(), keygen()
    cluster = make_cluster(3, extra_env={"SERF_ENCRYPT_KEY": old})
    n1, n2, n3 = cluster.nodes
    wait_for(lambda: resolves(cluster, cluster.nodes), timeout=30, what="all resolving")
    key_file = open_tmp / "new.key"
    key_file.write_text(new + "\n")
    key_file.chmod(0o600)

    assert n3.stop() == 0  # down for the whole rotation
    wait_for(lambda: cluster.gone_everywhere(n3, [n1, n2]), timeout=30, what="n3 gone")
    code, out = keys(n1, "install", "--key-file", str(key_file))
    assert code == 0, out
    assert out == "2/2 nodes answered, 0 failed\n"
    old_file = open_tmp / "old.key"
    old_file.write_text(old)
    old_file.chmod(0o600)
    assert keys(n2, "use", "--key-file", str(key_file))[0] == 0
    assert keys(n1, "remove", "--key-file", str(old_file))[0] == 0
    code, out = keys(n2, "list")
    assert code == 0
    assert out.splitlines() == [
        f"{fingerprint(new)}  installed on 2/2 nodes",
        "2/2 nodes answered, 0 failed",
    ]
    assert old not in out and new not in out  # keys are shown by fingerprint only
    # The keyring in the state dir holds the new key only: a restart keeps it.
    assert json.loads(keyring_path(n1.state_dir).read_text()) == [new]

    # n3 comes back with the old key: it cannot join, says why, and health shows it.
    n3.start("agent")
    hint = "the cluster uses a gossip key this node does not have"
    wait_for(lambda: hint in n3.log_file.read_text(), timeout=60, what="the key-mismatch message")
    code, out = health(n3)
    assert code == 1
    assert out.startswith(f"unhealthy: cannot join the cluster: {hint}")
    assert "cloudagent keys install < KEYFILE" in out

    # The fix the message names: install (and use) the current key on n3.
    assert keys(n3, "install", "--key-file", str(key_file))[0] == 0
    assert keys(n3, "use", "--key-file", str(key_file))[0] == 0
    wait_for(lambda: resolves(cluster, cluster.nodes), timeout=90, what="n3 back everywhere")
    wait_for(lambda: health(n3)[0] == 0, timeout=30, what="n3 healthy")

    # A restarted node keeps the active key although SERF_ENCRYPT_KEY still names the old one.
    assert n1.stop() == 0
    n1.start("server")
    wait_for(lambda: resolves(cluster, cluster.nodes), timeout=90, what="n1 back everywhere")


def test_keys_refuses_a_key_file_others_can_read(make_cluster: MakeCluster, open_tmp: Path) -> None:
    cluster = make_cluster(1, extra_env={"SERF_ENCRYPT_KEY": keygen()})
    key_file = open_tmp / "k"
    key_file.write_text(keygen())
    key_file.chmod(0o644)
    err = io.StringIO()
    code = main(
        ["keys", "install", "--key-file", str(key_file)],
        environ=cluster.nodes[0].env_for_cli(),
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == 1
    assert (
        err.getvalue()
        == f"cloudagent: --key-file: {key_file} is open to group or others (mode 0644); "
        f"run: chmod 600 {key_file}\n"
    )
