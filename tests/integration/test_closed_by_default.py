"""Closed by default: serf's RPC needs a token nobody else can read, our own commands still
work without the operator giving one, and a serf without the gossip key cannot join."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

from cloudagent.dev.localcluster import LocalCluster, wait_for
from tests.integration.conftest import MakeCluster
from tests.nodecli import cli

KEY = "cg8StVXbQJ0gPvMd9o7yrg=="


def test_rpc_needs_the_generated_token(make_cluster: MakeCluster) -> None:
    cluster: LocalCluster = make_cluster(2)
    nodes = cluster.nodes
    wait_for(
        lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
        timeout=30,
        what="cluster up",
    )
    node = nodes[0]
    assert "SERF_RPC_AUTH" not in node.env_for_cli()
    token = node.state_dir / "serf" / "rpc-token"
    assert token.stat().st_mode & 0o777 == 0o600
    rpc = f"-rpc-addr={node.address}:7373"
    # Another local user cannot make the node leave...
    leave = subprocess.run(
        ["runuser", "-u", "nobody", "--", "serf", "leave", rpc],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert leave.returncode != 0, leave.stdout + leave.stderr
    assert "Authentication required" in leave.stdout + leave.stderr
    # ... nor can anyone without the token, root included.
    members = subprocess.run(
        ["serf", "members", rpc], capture_output=True, text=True, timeout=30, check=False
    )
    assert members.returncode != 0
    time.sleep(1)
    assert node.running
    assert cluster.resolves_everywhere(node, nodes)

    # Our own commands find the token where the agent keeps it.
    listed = cli(node, "members", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {m["name"] for m in json.loads(listed.stdout)["members"]}
    assert names == {n.name for n in nodes}
    health = cli(node, "health")
    assert health.returncode == 0, health.stdout + health.stderr
    hosts = cli(node, "hosts")
    assert hosts.returncode == 0 and nodes[1].fqdn in hosts.stdout
    # Without the token (another user, another state dir) the error says what to do.
    refused = subprocess.run(
        [sys.executable, "-m", "cloudagent", "members"],
        env={**node.env_for_cli(), "CLOUDAGENT_STATE_DIR": str(cluster.base_dir / "elsewhere")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 1
    assert "run this as the user that runs the agent" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_gossip_open_is_warned_once(make_cluster: MakeCluster) -> None:
    cluster: LocalCluster = make_cluster(1)
    node = cluster.nodes[0]
    wait_for(lambda: "wrote hosts" in node.log_file.read_text(), timeout=30, what="node up")
    assert node.log_file.read_text().count("gossip is open") == 1


def test_a_serf_without_the_key_cannot_join(
    make_cluster: MakeCluster, raw_serf: Callable[..., subprocess.Popen[bytes]]
) -> None:
    cluster: LocalCluster = make_cluster(2, extra_env={"SERF_ENCRYPT_KEY": KEY})
    nodes = cluster.nodes
    wait_for(
        lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
        timeout=30,
        what="encrypted cluster up",
    )
    assert "gossip is open" not in nodes[0].log_file.read_text()
    intruder = raw_serf("intruder", cluster.address(50), nodes[0].address, "role=server")
    # serf's -join fails at start when no member answers it: the agent exits.
    assert intruder.wait(timeout=60) != 0
    for node in nodes:
        listed = cli(node, "members", "--json")
        assert {m["name"] for m in json.loads(listed.stdout)["members"]} == {n.name for n in nodes}
        assert node.dns.addresses("intruder.cluster.internal") is None
