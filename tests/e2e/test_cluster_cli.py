"""`cluster ls` and `cluster down` on the real engine. Only labelled networks are made (no
image needed); their prefixes carry this checkout's name and pid, and are removed at the end."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator

import docker
import pytest

from cloudagent.cli import main
from cloudagent.dev.launch import LABEL
from cloudagent.errors import ExitStatus

PREFIX = f"health{os.getpid()}"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["cluster", *argv], environ=os.environ, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def two_clusters(engine: docker.DockerClient) -> Iterator[list[str]]:
    names = [f"{PREFIX}a", f"{PREFIX}b"]
    networks = [
        engine.networks.create(f"{name}-cloudagent", driver="bridge", labels={LABEL: name})
        for name in names
    ]
    yield names
    for network in networks:
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()


def test_ls_without_prefix_lists_every_cluster(two_clusters: list[str]) -> None:
    code, out, _ = cli("ls")
    assert code == ExitStatus.OK
    lines = out.splitlines()
    assert lines[0].split() == ["CLUSTER", "STATUS", "SERVER"]
    for name in two_clusters:
        assert any(line.split()[:1] == [name] and "network only" in line for line in lines)


def test_down_of_an_absent_cluster_names_the_clusters_there(two_clusters: list[str]) -> None:
    code, out, err = cli("down", "--prefix", f"{PREFIX}none")
    assert code == ExitStatus.FAILURE and out == ""
    assert f"no cluster with prefix '{PREFIX}none'" in err
    assert all(name in err for name in two_clusters)
    code, out, _ = cli("down", "--prefix", two_clusters[0])
    assert code == ExitStatus.OK
    assert out.splitlines()[-1] == "removed 0 container(s) and 1 network(s)"
    code, out, _ = cli("ls")
    assert two_clusters[0] not in out and two_clusters[1] in out
