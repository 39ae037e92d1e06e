from __future__ import annotations

import pytest

from cloudagent.ambari.blueprint import Blueprint
from cloudagent.ambari.layout import (
    Candidate,
    LayoutError,
    assign_hosts,
    group_capacity,
    worker_group,
)
from cloudagent.ambari.validate import check_blueprint
from tests.unit.emulated import shipped


def blueprint(name: str) -> Blueprint:
    verdict = check_blueprint(shipped(name))
    assert verdict.blueprint is not None
    return verdict.blueprint


def hosts(
    *names: str, server: str | None = None, tags: dict[str, str] | None = None
) -> list[Candidate]:
    tags = tags or {}
    return [Candidate(n, tags.get(n), n == server) for n in names]


def test_server_takes_the_master_group_and_the_rest_are_workers() -> None:
    bp = blueprint("multi-node-hdfs-yarn")
    assert group_capacity(bp, "master") == 1
    assert group_capacity(bp, "worker") is None
    assert worker_group(bp) == "worker"
    layout = assign_hosts(bp, hosts("a.x", "b.x", "c.x", "z.x", server="z.x"))
    assert layout == {"master": ["z.x"], "worker": ["a.x", "b.x", "c.x"]}


def test_deterministic_whatever_the_order() -> None:
    bp = blueprint("multi-node-hdfs-yarn")
    one = assign_hosts(bp, hosts("c.x", "a.x", "b.x"))
    two = assign_hosts(bp, hosts("b.x", "c.x", "a.x"))
    assert one == two == {"master": ["a.x"], "worker": ["b.x", "c.x"]}


def test_hostgroup_tag_wins() -> None:
    bp = blueprint("multi-node-hdfs-yarn")
    layout = assign_hosts(
        bp, hosts("a.x", "b.x", server="a.x", tags={"b.x": "master", "a.x": "worker"})
    )
    assert layout == {"master": ["b.x"], "worker": ["a.x"]}


def test_impossible_layouts_are_explained() -> None:
    bp = blueprint("multi-node-hdfs-yarn")
    with pytest.raises(LayoutError, match="get no host"):
        assign_hosts(bp, hosts("a.x"))
    with pytest.raises(LayoutError, match="does not have"):
        assign_hosts(bp, hosts("a.x", "b.x", tags={"a.x": "gateway"}))
    with pytest.raises(LayoutError, match="can take 1 host"):
        assign_hosts(bp, hosts("a.x", "b.x", "c.x", tags={"a.x": "master", "b.x": "master"}))
    single = blueprint("single-node-hdfs-yarn")
    with pytest.raises(LayoutError, match="left over"):
        assign_hosts(single, hosts("a.x", "b.x"))
