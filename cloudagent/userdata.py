"""cloud-init user-data for cloud VMs: Docker from the distribution, then our container."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2

from cloudagent import hostnames
from cloudagent.errors import CloudagentError
from cloudagent.secret import Secret
from cloudagent.topology import rack_problem
from cloudagent.values import parse_endpoint

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cloudagent", "cloudinit"),
    autoescape=False,  # noqa: S701 - YAML/shell text; every value is validated below
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:@-]*")
_CLUSTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_BLUEPRINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,199}")
_NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
EMULATOR_SERVER = "cloudagent ambari-emulator --listen 0.0.0.0:8080 --agent-listen 0.0.0.0:8440"
EMULATOR_AGENT = "cloudagent ambari-emulator agent --config /etc/ambari-agent/conf/ambari-agent.ini"
# The gossip key reaches the container as a read-only 0600 file, never as an environment
# variable: `docker inspect` shows a container's environment to anyone who may use Docker.
KEY_ON_VM = "/etc/cloudagent/serf.key"
KEY_IN_CONTAINER = "/run/secrets/cloudagent/serf.key"


@dataclass(frozen=True)
class UserData:
    """The choices for one VM's user-data."""

    role: str
    join_ip: str | None
    image: str = "cloudagent:latest"
    advertise: str = "auto"  # auto | none | an IP
    domain: str = "cluster.internal"
    network: str = "host"
    expected_hosts: int = 1
    blueprint: str | None = None
    cluster: str | None = None
    ambari: str = "installed"  # installed | emulator | off
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    gossip_key: Secret | None = None
    key_generated: bool = False  # the key was made for this rendering (a new cluster)
    open_gossip: bool = False  # explicitly no key
    rack: str | None = None  # CLOUDAGENT_RACK; unset: Hadoop's /default-rack


def _check(data: UserData) -> list[str]:
    problems = []
    if data.role not in ("server", "agent"):
        problems.append(f"--role {data.role!r}: use server or agent")
    if data.join_ip is not None:
        try:
            endpoint = parse_endpoint(data.join_ip, 7946)
            ipaddress.ip_address(endpoint.host)
        except ValueError:
            problems.append(f"--join-ip {data.join_ip!r}: not an IP address (or IP:port)")
    if data.role == "agent" and not data.join_ip:
        problems.append("--join-ip is required for an agent (the server's address)")
    if data.advertise not in ("auto", "none"):
        try:
            ipaddress.ip_address(data.advertise)
        except ValueError:
            problems.append(f"--advertise-ip {data.advertise!r}: use auto, none or an IP address")
    if hostnames.hostname_problem(data.domain):
        problems.append(f"--domain {data.domain!r}: not a valid domain")
    for flag, value, pattern in (
        ("--image", data.image, _IMAGE),
        ("--network", data.network, _NETWORK),
        ("--cluster", data.cluster, _CLUSTER),
        ("--blueprint", data.blueprint, _BLUEPRINT),
    ):
        if value is not None and not pattern.fullmatch(value):
            problems.append(f"{flag} {value!r}: unexpected characters")
    if data.role == "agent" and data.gossip_key is None and not data.open_gossip:
        problems.append(
            "an agent needs the cluster's gossip key: fetch it from the server VM "
            f"(sudo cat {KEY_ON_VM}) into a 0600 file and set SERF_ENCRYPT_KEY_FILE to it "
            "(or --no-encrypt to join an open cluster)"
        )
    if data.rack is not None and (problem := rack_problem(data.rack)):
        problems.append(f"--rack {data.rack!r}: {problem} (use a path such as /dc1/rack1)")
    if data.expected_hosts < 1:
        problems.append("--expected-hosts must be at least 1")
    for name, secret in data.secrets.items():
        if any(c in secret.reveal() for c in "\n\r\0"):
            problems.append(f"{name}: a secret cannot contain a line break")
    return problems


def environment(data: UserData) -> list[tuple[str, str]]:
    """The container's environment (written to a 0600 env file on the VM)."""
    env = [("AMBARI_ROLE", data.role), ("MYDOMAIN", data.domain)]
    if data.join_ip:
        env.append(("SERF_JOIN_IP", data.join_ip))
    if data.rack:
        env.append(("CLOUDAGENT_RACK", data.rack))
    if data.role == "server":
        env.append(("EXPECTED_HOST_COUNT", str(data.expected_hosts)))
        if data.blueprint:
            env.append(("BLUEPRINT", data.blueprint))
        if data.cluster:
            env.append(("CLUSTER_NAME", data.cluster))
    if data.ambari == "off":
        env.append(("CLOUDAGENT_AMBARI", "off"))
    elif data.ambari == "emulator":
        env.append(("AMBARI_AGENT_COMMAND", EMULATOR_AGENT))
        if data.role == "server":
            env.append(("AMBARI_SERVER_COMMAND", EMULATOR_SERVER))
    if data.gossip_key is not None:
        env.append(("SERF_ENCRYPT_KEY_FILE", KEY_IN_CONTAINER))
    env += [(name, secret.reveal()) for name, secret in sorted(data.secrets.items())]
    return env


def render(data: UserData) -> str:
    """``#cloud-config`` user-data; raises CloudagentError listing every bad input."""
    problems = _check(data)
    if problems:
        raise CloudagentError("cannot render user-data:\n  " + "\n  ".join(problems))
    return _ENV.get_template("user-data.yaml.j2").render(
        role=data.role,
        env=environment(data),
        image=data.image,
        network=data.network,
        advertise=data.advertise,
        gossip_key=data.gossip_key.reveal() if data.gossip_key is not None else None,
        key_generated=data.key_generated,
        key_on_vm=KEY_ON_VM,
        key_in_container=KEY_IN_CONTAINER,
    )
