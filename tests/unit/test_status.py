"""The health status file, and the serf settings the reliability work depends on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cloudagent.config import load
from cloudagent.daemon.status import SIZE, Status, StatusFile, judge_status, pid_alive, read_status
from cloudagent.errors import ConfigError
from cloudagent.serf.process import RECONNECT_INTERVAL, serf_config


def test_status_is_rewritten_in_place_even_when_the_disk_is_full(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        status = StatusFile(mount / "health.json")
        status.open()
        health = Status(pid=os.getpid(), started=100.0)
        status.write(health.document(100.0))
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        health.cycle_failed(101.0, "cannot write hosts: No space left on device")
        status.write(health.document(131.0))  # no new block needed: the space was reserved
        doc = read_status(mount / "health.json")
        assert doc is not None and doc["updated"] == 131.0
        assert (mount / "health.json").stat().st_size == SIZE
        problem = judge_status(doc, 135.0, pid_alive)
        assert problem is not None and "No space left" in problem
        status.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_dead_agent_or_no_status_is_unhealthy(tmp_path: Path) -> None:
    assert judge_status(read_status(tmp_path / "none.json"), 0.0, pid_alive) is not None
    doc = Status(pid=2**22 + 7, started=0.0).document(1.0)
    assert "not running" in (judge_status(doc, 1.0, pid_alive) or "")


def test_advertised_port_follows_the_bind_port_and_reconnects_are_quick() -> None:
    cfg = load(
        {
            "CLOUDAGENT_NODE_NAME": "n1.c.internal",
            "CLOUDAGENT_SERF_BIND": "127.0.0.1:7950",
            "SERF_ADVERTISE_IP": "10.1.2.3",
            "CLOUDAGENT_STATE_DIR": "/var/lib/cloudagent-test",
        },
        is_root=False,
    )
    doc = serf_config(cfg, {"role": "agent"})
    assert doc["advertise"] == "10.1.2.3:7950"
    assert doc["reconnect_interval"] == RECONNECT_INTERVAL == "1s"


def test_an_advertise_address_serf_refuses_fails_validation() -> None:
    for bad in ("::1", "0.0.0.0", "224.0.0.1", "255.255.255.255"):
        try:
            load({"CLOUDAGENT_NODE_NAME": "n1.c.internal", "SERF_ADVERTISE_IP": bad}, is_root=False)
        except ConfigError as exc:
            assert any("SERF_ADVERTISE_IP" in p for p in exc.problems)
        else:
            raise AssertionError(f"{bad} was accepted")
