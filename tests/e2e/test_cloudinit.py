"""cloud-init user-data: every variant passes cloud-init's own schema check, and the container
start command it carries, run against the local engine, starts nodes that join."""

from __future__ import annotations

import base64
import io
import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from cloudagent.cli import main
from cloudagent.dev.launch import LABEL
from cloudagent.dev.localcluster import wait_for

KEY = "cg8StVXbQJ0gPvMd9o7yrg=="


def render(*args: str, env: dict[str, str] | None = None) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = main(["cloudinit", "render", *args], environ=env or {}, stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    return out.getvalue()


VARIANTS = (
    [
        ["--role", "server", *extra, "--advertise-ip", advertise, "--ambari", ambari]
        for extra, advertise, ambari in itertools.product(
            [
                [],
                [
                    "--join-ip",
                    "10.0.0.5",
                    "--expected-hosts",
                    "3",
                    "--blueprint",
                    "hive-mysql",
                    "--cluster",
                    "prod",
                ],
            ],
            ["auto", "none", "10.0.0.9"],
            ["installed", "emulator", "off"],
        )
    ]
    + [
        [
            "--role",
            "agent",
            "--join-ip",
            "10.0.0.5",
            "--advertise-ip",
            advertise,
            "--network",
            network,
        ]
        for advertise, network in itertools.product(
            ["auto", "none", "10.0.0.7"], ["host", "bridge"]
        )
    ]
    + [["--role", "agent", "--join-ip", "10.0.0.5", "--rack", "/dc1/vm-7"]]
)


@pytest.mark.parametrize("args", VARIANTS, ids=lambda a: "-".join(x.strip("-") for x in a))
def test_every_variant_passes_the_cloud_init_schema(args: list[str], tmp_path: Path) -> None:
    text = render(*args, env={"SERF_ENCRYPT_KEY": KEY, "DEFAULT_PASSWORD": "pw"})
    assert text.startswith("#cloud-config\n")
    path = tmp_path / "user-data"
    path.write_text(text)
    check = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    doc = yaml.safe_load(text)
    files = _files(text)
    env_file = files["/etc/cloudagent/env"]
    assert env_file["permissions"] == "0600"
    # The key is a mounted 0600 file, not an environment variable `docker inspect` would show.
    assert KEY not in env_file["content"]
    assert "SERF_ENCRYPT_KEY_FILE=/run/secrets/cloudagent/serf.key" in env_file["content"]
    key_file = files["/etc/cloudagent/serf.key"]
    assert (key_file["permissions"], key_file["content"].strip()) == ("0600", KEY)
    assert "docker.io" in doc["packages"]


def test_a_server_without_a_key_gets_a_new_one_and_an_agent_must_be_given_it() -> None:
    first, second = render("--role", "server"), render("--role", "server")
    keys = [_files(t)["/etc/cloudagent/serf.key"]["content"].strip() for t in (first, second)]
    assert keys[0] != keys[1] and all(len(base64.b64decode(k)) == 32 for k in keys)
    assert "sudo cat /etc/cloudagent/serf.key" in first  # how to fetch it for the next node
    err = io.StringIO()
    agent = ["cloudinit", "render", "--role", "agent", "--join-ip", "10.0.0.5"]
    assert main(agent, environ={}, stdout=io.StringIO(), stderr=err) == 1
    assert "an agent needs the cluster's gossip key" in err.getvalue()
    opened = render("--role", "agent", "--join-ip", "10.0.0.5", "--no-encrypt")
    assert "/etc/cloudagent/serf.key" not in _files(opened)
    assert "Gossip is OPEN" in opened


def test_bad_input_is_refused_with_every_reason() -> None:
    err = io.StringIO()
    code = main(
        [
            "cloudinit",
            "render",
            "--role",
            "agent",
            "--advertise-ip",
            "somewhere",
            "--image",
            "bad image",
        ],
        environ={},
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == 1
    for reason in ("--join-ip is required", "--advertise-ip 'somewhere'", "--image 'bad image'"):
        assert reason in err.getvalue()


def _files(text: str) -> dict[str, Any]:
    return {f["path"]: f for f in yaml.safe_load(text)["write_files"]}


@pytest.fixture
def network(engine: docker.DockerClient) -> Iterator[str]:
    name = f"ci{os.getpid()}"
    engine.networks.create(name, driver="bridge", labels={LABEL: name})
    yield name
    for container in engine.containers.list(all=True, filters={"label": f"{LABEL}={name}"}):
        container.remove(force=True)
    for container in engine.containers.list(all=True, filters={"name": f"{name}-"}):
        container.remove(force=True)
    for volume in engine.volumes.list(filters={"name": f"{name}-"}):
        volume.remove(force=True)
    engine.networks.get(name).remove()


def start_from_user_data(text: str, network: str, name: str, conf: Path) -> None:
    """What cloud-init does with our user-data, minus installing Docker: write the files (under
    ``conf``) and run the start command, pointed at a test network instead of the host's."""
    files = _files(text)
    for path, entry in files.items():
        if path.startswith("/etc/cloudagent/"):
            target = conf / path.removeprefix("/etc/cloudagent/")
            target.write_text(entry["content"])
            target.chmod(int(entry["permissions"], 8))
    script = conf / "cloudagent-start"
    script.write_text(files["/usr/local/sbin/cloudagent-start"]["content"])
    script.chmod(0o755)
    assert ["/usr/local/sbin/cloudagent-start"] in yaml.safe_load(text)["runcmd"]
    subprocess.run(
        [str(script)],
        check=True,
        env={
            **os.environ,
            "CLOUDAGENT_CONF_DIR": str(conf),
            "CLOUDAGENT_DOCKER_NETWORK": network,
            "CLOUDAGENT_HOSTNAME": f"{name}.cluster.internal",
            "CLOUDAGENT_DNS_UPSTREAM": "none",
            "CLOUDAGENT_CONTAINER": f"{network}-{name}",
            "CLOUDAGENT_STATE_VOLUME": f"{network}-{name}",
        },
    )


def test_rendered_start_command_runs_nodes_that_join(
    engine: docker.DockerClient, image: str, network: str
) -> None:
    with tempfile.TemporaryDirectory() as server_conf, tempfile.TemporaryDirectory() as agent_conf:
        server_ud = render(
            "--role",
            "server",
            "--image",
            image,
            "--advertise-ip",
            "none",
            "--ambari",
            "off",
            env={"SERF_ENCRYPT_KEY": KEY},
        )
        start_from_user_data(server_ud, network, "srv", Path(server_conf))
        server = engine.containers.get(f"{network}-srv")
        server.reload()
        server_ip = server.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        agent_ud = render(
            "--role",
            "agent",
            "--join-ip",
            server_ip,
            "--image",
            image,
            "--advertise-ip",
            "none",
            "--ambari",
            "off",
            env={"SERF_ENCRYPT_KEY": KEY},
        )
        start_from_user_data(agent_ud, network, "agt", Path(agent_conf))
        agent = engine.containers.get(f"{network}-agt")

        def joined() -> bool:
            code, out = server.exec_run(["getent", "hosts", "agt.cluster.internal"])
            return code == 0 and b"agt.cluster.internal" in out

        wait_for(joined, timeout=60, interval=0.5, what="the cloud-init node joined")
        code, out = agent.exec_run(["getent", "hosts", "srv.cluster.internal"])
        assert code == 0 and server_ip.encode() in out
        # The gossip key came through a mounted 0600 file: not in argv, not in the environment.
        agent.reload()
        assert KEY not in " ".join(agent.attrs["Args"])
        assert not any(KEY in variable for variable in agent.attrs["Config"]["Env"])
