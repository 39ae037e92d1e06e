"""Rack paths, the topology table and `cloudagent topology` (Hadoop's rack script contract)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloudagent import config
from cloudagent.cli import main
from cloudagent.commands import topology as command
from cloudagent.daemon.topology import TopologyFile
from cloudagent.dev.launch import ClusterSpec, Launcher
from cloudagent.errors import ConfigError
from cloudagent.reconcile import Reconciler
from cloudagent.topology import (
    DEFAULT_RACK,
    parse_rack,
    parse_table,
    rack_from_hostname,
    rack_problem,
    render_table,
    resolve,
    table_path,
    table_rows,
)

DOMAIN = "c.internal"


def raw(name: str, last: int, rack: str | None = None, status: str = "alive") -> dict[str, object]:
    tags = {"role": "agent"} | ({"rack": rack} if rack is not None else {})
    return {
        "Name": name,
        "Addr": bytes([10, 0, 0, last]),
        "Port": 7946,
        "Status": status,
        "Tags": tags,
    }


@pytest.mark.parametrize("rack", ["/r1", "/dc1/host-a", "/DC_1/rack.2/x", "/" + "a" * 63])
def test_valid_racks(rack: str) -> None:
    assert rack_problem(rack) is None
    assert parse_rack(f"  {rack}\n") == rack


@pytest.mark.parametrize(
    ("rack", "reason"),
    [
        ("", "does not start with /"),
        ("rack1", "does not start with /"),
        ("/", "has an empty label"),
        ("/dc1/", "has an empty label"),
        ("/dc1//r", "has an empty label"),
        ("/dc 1", "label 'dc 1' has characters other than"),
        ("/r1\t/r2", "has characters other than"),
        ("/r;rm -rf", "has characters other than"),
        ("/" + "a" * 64, "has a label longer than 63"),
        ("/a" * 130, "is longer than 255"),
    ],
)
def test_invalid_racks(rack: str, reason: str) -> None:
    problem = rack_problem(rack)
    assert problem is not None and reason in problem
    with pytest.raises(ValueError, match="use a path such as /dc1/rack1"):
        parse_rack(rack)


def test_rack_from_an_engine_host_name() -> None:
    assert rack_from_hostname("docker-host-1") == "/docker-host-1"
    assert rack_from_hostname("Büro PC") == "/B-ro-PC"
    assert rack_from_hostname("") == DEFAULT_RACK
    assert rack_problem(rack_from_hostname("x" * 200)) is None


def test_config_rack_default_valid_and_invalid() -> None:
    base = {"CLOUDAGENT_NODE_NAME": "node1"}
    assert config.load(base).rack == "/default-rack"
    assert config.load({**base, "CLOUDAGENT_RACK": "/dc1/host-a"}).rack == "/dc1/host-a"
    with pytest.raises(ConfigError) as caught:
        config.load({**base, "CLOUDAGENT_RACK": "dc1", "CLOUDAGENT_FAILED_GRACE": "x"})
    problems = caught.value.problems
    assert any(p.startswith("CLOUDAGENT_RACK: 'dc1' does not start with /") for p in problems)
    assert any(p.startswith("CLOUDAGENT_FAILED_GRACE") for p in problems)


def test_table_from_a_membership_covers_names_and_addresses() -> None:
    cycle = Reconciler(DOMAIN, grace=60).step(
        [
            raw("a", 1, "/r1"),
            raw("b", 2, "/r2"),
            raw("c", 3),  # no tag: Hadoop's default rack
            raw("d", 4, "not a rack"),  # bad tag: ignored, the member still served
            raw("e", 5, "/r1", status="left"),  # not served by DNS: not in the table
        ],
        now=0,
    )
    rows, problems = table_rows(cycle.view, cycle.membership.members, DOMAIN)
    assert rows == [
        ("10.0.0.1", "/r1"),
        ("a.c.internal", "/r1"),
        ("a", "/r1"),
        ("10.0.0.2", "/r2"),
        ("b.c.internal", "/r2"),
        ("b", "/r2"),
        ("10.0.0.3", DEFAULT_RACK),
        ("c.c.internal", DEFAULT_RACK),
        ("c", DEFAULT_RACK),
        ("10.0.0.4", DEFAULT_RACK),
        ("d.c.internal", DEFAULT_RACK),
        ("d", DEFAULT_RACK),
    ]
    assert problems == [
        "member 'd': rack tag 'not a rack' ignored (does not start with /); "
        "it is served on /default-rack"
    ]
    text = render_table(rows)
    assert parse_table(text) == dict(rows)  # Hadoop's reader gets every row back


def test_fqdn_named_members_and_shared_short_names() -> None:
    # "x.c.internal" and "x.other.c.internal" share the short name x: DNS serves no alias.
    cycle = Reconciler(DOMAIN, grace=60).step(
        [raw("x.c.internal", 1, "/r1"), raw("x.other.c.internal", 2, "/r2")], now=0
    )
    rows, _ = table_rows(cycle.view, cycle.membership.members, DOMAIN)
    assert rows == [
        ("10.0.0.1", "/r1"),
        ("x.c.internal", "/r1"),
        ("10.0.0.2", "/r2"),
        ("x.other.c.internal", "/r2"),
    ]


def test_table_file_is_written_only_on_change_and_warns_once(
    open_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reconciler = Reconciler(DOMAIN, grace=60)
    file = TopologyFile(open_tmp, DOMAIN)
    members = [raw("a", 1, "/r1"), raw("b", 2, "bad")]
    path = Path(table_path(open_tmp))
    with caplog.at_level(logging.WARNING):
        cycle = reconciler.step(members, now=0)
        assert file.update(cycle.view, cycle.membership.members) is True
        inode = path.stat().st_ino
        for now in (1, 2):
            cycle = reconciler.step(members, now=now)
            assert file.update(cycle.view, cycle.membership.members) is False
    assert path.stat().st_ino == inode  # untouched, not rewritten
    warnings = [r.getMessage() for r in caplog.records if "rack tag" in r.getMessage()]
    assert warnings == [
        "member 'b': rack tag 'bad' ignored (does not start with /); it is served on /default-rack"
    ]
    assert parse_table(path.read_text())["b.c.internal"] == DEFAULT_RACK
    # A rack change rewrites the file (atomically: a new inode replaces the old one).
    cycle = reconciler.step([raw("a", 1, "/r9"), raw("b", 2, "bad")], now=3)
    assert file.update(cycle.view, cycle.membership.members) is True
    assert path.stat().st_ino != inode
    assert parse_table(path.read_text())["10.0.0.1"] == "/r9"
    # A restarted agent finds the same text and writes nothing.
    assert TopologyFile(open_tmp, DOMAIN).update(cycle.view, cycle.membership.members) is False


def test_parse_table_reads_as_hadoop_table_mapping() -> None:
    text = "  # comment\n\n10.0.0.1\t/r1\n  a.x   /r2  \nthree columns here\nlonely\n#b /r3\n"
    assert parse_table(text) == {"10.0.0.1": "/r1", "a.x": "/r2"}


def test_resolve_keeps_order_and_count() -> None:
    table = {"10.0.0.1": "/r1", "a.x": "/r2"}
    hosts = ["a.x", "nosuch", "10.0.0.1", "A.X.", "a.x"]
    assert resolve(table, hosts) == ["/r2", DEFAULT_RACK, "/r1", "/r2", "/r2"]
    assert resolve(table, []) == []


def cli(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=env, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_topology_command_answers_one_rack_per_argument(open_tmp: Path) -> None:
    Path(table_path(open_tmp)).write_text(
        render_table([("10.0.0.1", "/r1"), ("a.c.internal", "/r1"), ("a", "/r1")])
    )
    env = {"CLOUDAGENT_STATE_DIR": str(open_tmp)}
    code, out, err = cli(["topology", "a.c.internal", "10.0.0.9", "10.0.0.1", "a"], env)
    assert (code, err) == (0, "")
    assert out.split() == ["/r1", DEFAULT_RACK, "/r1", "/r1"]
    assert cli(["topology"], env) == (0, "", "")
    assert cli(["topology", "--help"], env)[1].startswith("usage: cloudagent topology")
    # The argparse route (an option before the command) answers the same.
    assert cli(["--debug", "topology", "a", "nosuch"], env)[:2] == (0, f"/r1\n{DEFAULT_RACK}\n")


def test_topology_without_a_table_is_the_default_rack_and_exit_0(open_tmp: Path) -> None:
    env = {"CLOUDAGENT_STATE_DIR": str(open_tmp / "missing")}
    code, out, err = cli(["topology", "a", "10.0.0.1"], env)
    assert code == 0
    assert out == f"{DEFAULT_RACK}\n{DEFAULT_RACK}\n"
    assert err.count("\n") == 1 and "cannot read" in err and "topology.table" in err


def test_console_script_uses_argv(open_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path(table_path(open_tmp)).write_text("h /r5\n")
    os.environ["CLOUDAGENT_STATE_DIR"] = str(open_tmp)
    try:
        assert command.main(["h", "x"]) == 0
    finally:
        del os.environ["CLOUDAGENT_STATE_DIR"]
    assert capsys.readouterr().out == f"/r5\n{DEFAULT_RACK}\n"


def test_topology_fast_path_imports_no_other_command(open_tmp: Path) -> None:
    # The NameNode runs this for every new DataNode: it must not load serf, asyncio, jinja2,
    # requests, the configuration or the other commands.
    probe = (
        "import sys; from cloudagent.cli import main; code = main(['topology', 'h']); "
        "print(' '.join(sorted(sys.modules)))"
    )
    env = {**os.environ, "CLOUDAGENT_STATE_DIR": str(open_tmp)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    modules = set(result.stdout.split()[1:])
    ours = {m for m in modules if m.startswith("cloudagent")}
    assert ours == {
        "cloudagent",
        "cloudagent.cli",
        "cloudagent.errors",
        "cloudagent.commands",
        "cloudagent.commands.topology",
        "cloudagent.topology",
    }
    assert not modules & {"asyncio", "jinja2", "requests", "docker", "dataclasses", "socket"}


class FakeEngine:
    """What Launcher asks of the Docker client before it starts anything."""

    def ping(self) -> bool:
        return True

    def info(self) -> dict[str, str]:
        return {"Name": "engine-7.example"}


def test_launcher_rack_is_the_engine_host_name_unless_given() -> None:
    launcher = Launcher(FakeEngine(), say=lambda _: None)  # type: ignore[arg-type]
    assert launcher.rack(ClusterSpec()) == "/engine-7.example"
    assert launcher.rack(ClusterSpec(rack="/dc1/r2")) == "/dc1/r2"


def test_cluster_rack_option_is_validated() -> None:
    code, _, err = cli(["cluster", "up", "--rack", "r1"], {})
    assert code == 2
    assert "argument --rack: 'r1' does not start with /" in err


AGENT = ["cloudinit", "render", "--role", "agent", "--join-ip", "10.0.0.1", "--no-encrypt"]


def test_cloudinit_render_rack() -> None:
    code, out, err = cli(
        [*AGENT, "--rack", "/dc1/r1"],
        {},
    )
    assert (code, err) == (0, "")
    assert "      CLOUDAGENT_RACK=/dc1/r1\n" in out
    code, out, err = cli([*AGENT, "--rack", "/a b"], {})
    assert (code, out) == (1, "")
    assert "--rack '/a b': label 'a b' has characters other than" in err
    _, out, _ = cli(AGENT, {})
    assert "CLOUDAGENT_RACK" not in out


def test_racks_of_different_depths_are_one_problem() -> None:
    cycle = Reconciler(DOMAIN, grace=60).step(
        [raw("a", 1, "/dc1/r1"), raw("b", 2, "/dc1/r2"), raw("c", 3)], now=0
    )
    _, problems = table_rows(cycle.view, cycle.membership.members, DOMAIN)
    assert problems == [
        "racks of different depths (/default-rack, /dc1/r1): Hadoop refuses DataNodes on a rack "
        "whose depth differs from the first one; give every node a rack with as many labels"
    ]
