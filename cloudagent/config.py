"""Configuration from the environment: one frozen Config, every problem reported at once."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cloudagent import DEFAULT_STATE_DIR, hostnames
from cloudagent.endpoint import Endpoint
from cloudagent.environ import Collector
from cloudagent.secret import Secret, read_secret_file
from cloudagent.services import Service, load_services
from cloudagent.topology import DEFAULT_RACK, parse_rack
from cloudagent.values import (
    SERF_PORT,
    advertise_address,
    encrypt_key,
    ip_endpoint,
    join_endpoint,
    parse_duration,
    parse_networks,
    parse_ttl,
    placeholder_domain,
)

Role = Literal["server", "agent"]
ROLES: Final[tuple[Role, ...]] = ("server", "agent")
# Serf's timing profiles (memberlist's DefaultLANConfig, DefaultWANConfig, DefaultLocalConfig).
SERF_PROFILES: Final = ("lan", "wan", "local")
DEFAULT_DOMAIN: Final = "cluster.internal"
DEFAULT_GRACE: Final = 300.0
# Where the agent keeps the RPC token it generates when SERF_RPC_AUTH is not given (0600,
# inside the 0700 serf directory): our own commands read it from there.
RPC_TOKEN_FILE: Final = Path("serf") / "rpc-token"
MAX_GRACE: Final = 7 * 24 * 3600.0  # a week: longer is surely a typo (ms meant?)
DEFAULT_HTTP: Final = Endpoint("127.0.0.1", 8301)


@dataclass(frozen=True)
class Config:
    """Everything the agent needs, validated. Build it with :func:`load`."""

    role: Role
    node_name: str
    domain: str
    join: tuple[Endpoint, ...]
    advertise: str | None
    encrypt_key: Secret | None
    rpc_auth: Secret | None
    serf_bind: Endpoint
    serf_rpc: Endpoint
    dns_listen: Endpoint
    dns_upstream: tuple[Endpoint, ...] | None  # None: take the resolvers from resolv.conf
    state_dir: Path
    failed_grace: float
    serf_bin: str
    dnsmasq_bin: str
    dnsmasq_user: str | None
    log_level: str
    resolv_conf: Path | None = None  # a resolv.conf to point at our dnsmasq (containers)
    rack: str = DEFAULT_RACK  # Hadoop rack path, gossiped in the ``rack`` tag
    dns_ttl: int = 0  # CLOUDAGENT_DNS_TTL: TTL of cluster answers (0: resolvers do not cache)
    # CLOUDAGENT_ADVERTISE_CIDR: advertise this node's interface address inside this network
    advertise_cidr: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    # CLOUDAGENT_DNS_AUTHORITATIVE: answer the domain (and these networks' reverse zones) in
    # dnsmasq's authoritative mode, so negative answers carry an SOA; needs DNS_UPSTREAM=none
    dns_authoritative: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    services: tuple[Service, ...] = ()  # CLOUDAGENT_SERVICES, published in the services tag
    http_listen: Endpoint | None = DEFAULT_HTTP  # None: CLOUDAGENT_HTTP_LISTEN=off
    log_format: str = "text"
    cycle_stale: float = 30.0  # /health: DNS unhealthy after this long without a good cycle
    serf_profile: str = "lan"  # memberlist timing profile: lan, wan or local

    @property
    def fqdn(self) -> str:
        """This node's FQDN, as every member's DNS serves it."""
        return hostnames.fqdn(self.node_name, self.domain)

    @property
    def rpc_token_file(self) -> Path:
        """The RPC token the agent generated (used when SERF_RPC_AUTH is not given)."""
        return self.state_dir / RPC_TOKEN_FILE

    def describe(self) -> list[tuple[str, str]]:
        """Name/value rows for humans; secrets masked."""
        return [
            ("role", self.role),
            ("node name", self.node_name),
            ("fqdn", self.fqdn),
            ("domain", self.domain),
            ("join", ", ".join(map(str, self.join)) or "(none: first node)"),
            ("advertise", self.advertise or "(serf chooses)"),
            ("gossip encryption", "on" if self.encrypt_key else "off"),
            ("rpc auth", "on" if self.rpc_auth else "off"),
            ("serf bind", str(self.serf_bind)),
            ("serf rpc", str(self.serf_rpc)),
            ("dns listen", str(self.dns_listen)),
            ("dns upstream", _describe_upstream(self.dns_upstream)),
            ("state dir", str(self.state_dir)),
            ("failed grace", f"{self.failed_grace:g}s"),
            ("rack", self.rack),
            ("services", ",".join(map(str, self.services)) or "(none)"),
            ("http", str(self.http_listen) if self.http_listen else "off"),
        ]

    def summary(self) -> str:
        """The settings worth one line in the start-up log, ``name=value`` joined by commas;
        secrets masked."""
        rows = dict(self.describe())
        return ", ".join(f"{name.replace(' ', '-')}={rows[name]}" for name in _SUMMARY)


_SUMMARY: Final = (
    "domain", "join", "advertise", "gossip encryption", "rpc auth", "serf bind", "serf rpc",
)  # fmt: skip


def _describe_upstream(upstream: tuple[Endpoint, ...] | None) -> str:
    if upstream is None:
        return "from /etc/resolv.conf"
    return ", ".join(map(str, upstream)) or "none"


def load(
    environ: Mapping[str, str] | None = None,
    *,
    role: str | None = None,
    default_node_name: Callable[[], str] = socket.getfqdn,
    read_file: Callable[[Path], str] = read_secret_file,
    is_root: bool | None = None,
) -> Config:
    """Build a Config from ``environ`` (default: ``os.environ``); raise ConfigError listing all
    problems. ``role`` (the ``run`` argument) takes precedence over ``AMBARI_ROLE``."""
    c = Collector(os.environ if environ is None else environ, read_file)
    config = collect(c, role=role, default_node_name=default_node_name, is_root=is_root)
    c.finish()
    return config


def _serf_profile(c: Collector) -> str:
    profile = (c.get("CLOUDAGENT_SERF_PROFILE") or "lan").lower()
    if profile not in SERF_PROFILES:
        c.problem(
            f"CLOUDAGENT_SERF_PROFILE: {profile!r}; use {', '.join(SERF_PROFILES)} "
            "(serf's gossip and failure-detection timings; see docs/benchmarks.md)"
        )
        return "lan"
    return profile


def collect(
    c: Collector,
    *,
    role: str | None = None,
    default_node_name: Callable[[], str] = socket.getfqdn,
    is_root: bool | None = None,
) -> Config:
    """Read the agent's variables through ``c``; the problems stay in ``c`` (see
    :meth:`Collector.finish`), and the Config returned then holds defaults in their place."""
    role_text = (role or c.get("AMBARI_ROLE") or "agent").lower()
    if role_text not in ROLES:
        c.problem(f"AMBARI_ROLE: {role_text!r} is not a role; use 'server' or 'agent'")
        role_text = "agent"

    node_name = hostnames.normalise(c.get("CLOUDAGENT_NODE_NAME") or default_node_name())
    if problem := hostnames.hostname_problem(node_name):
        source = "CLOUDAGENT_NODE_NAME" if c.get("CLOUDAGENT_NODE_NAME") else "this host's FQDN"
        c.problem(
            f"{source}: {node_name!r} is not a valid host name ({problem}); "
            "set CLOUDAGENT_NODE_NAME to an RFC 1123 name such as node1.cluster.internal"
        )

    default_domain = node_name.partition(".")[2] or DEFAULT_DOMAIN
    domain = hostnames.normalise(c.get("MYDOMAIN") or default_domain)
    if (problem := hostnames.hostname_problem(domain)) and c.get("MYDOMAIN"):
        c.problem(f"MYDOMAIN: {domain!r} is not a valid domain ({problem})")
    elif problem := placeholder_domain(domain):
        source = "MYDOMAIN" if c.get("MYDOMAIN") else f"the domain taken from {node_name!r}"
        c.problem(f"{source}: {domain!r} {problem}; set MYDOMAIN to the cluster's domain")

    no_endpoints: tuple[Endpoint, ...] = ()
    join = c.parse(
        "SERF_JOIN_IP",
        no_endpoints,
        lambda v: tuple(join_endpoint(part) for part in v.split(",") if part.strip()),
    )
    advertise = c.parse("SERF_ADVERTISE_IP", None, advertise_address)
    serf_bind = c.parse(
        "CLOUDAGENT_SERF_BIND",
        Endpoint("0.0.0.0", SERF_PORT),  # noqa: S104 - gossip must be reachable from peers
        lambda v: ip_endpoint(v, SERF_PORT),
    )
    serf_rpc = c.parse(
        "CLOUDAGENT_SERF_RPC", Endpoint("127.0.0.1", 7373), lambda v: ip_endpoint(v, 7373)
    )
    if not serf_rpc.is_loopback:
        c.problem(
            f"CLOUDAGENT_SERF_RPC: {serf_rpc} is not a loopback address; "
            "the RPC port controls the agent and must stay on 127.0.0.0/8 or ::1"
        )
    dns_listen = c.parse(
        "CLOUDAGENT_DNS_LISTEN", Endpoint("127.0.0.1", 53), lambda v: ip_endpoint(v, 53)
    )

    upstream: tuple[Endpoint, ...] | None = None
    raw_upstream = c.get("DNS_UPSTREAM")
    if raw_upstream is not None and raw_upstream.lower() != "auto":
        upstream = (
            ()
            if raw_upstream.lower() == "none"
            else c.parse(
                "DNS_UPSTREAM",
                no_endpoints,
                lambda v: tuple(ip_endpoint(part, 53) for part in v.split(",") if part.strip()),
            )
        )

    grace = c.number(
        "CLOUDAGENT_FAILED_GRACE",
        DEFAULT_GRACE,
        low=0,
        high=MAX_GRACE,
        parser=parse_duration,
        unit="s",
    )
    state_text = c.get("CLOUDAGENT_STATE_DIR") or DEFAULT_STATE_DIR
    if any(ch in state_text for ch in "\n\r\0"):
        c.problem(
            f"CLOUDAGENT_STATE_DIR: {state_text!r} has a line break or NUL in it; "
            "dnsmasq's configuration could not name it: use a plain path"
        )
    elif not state_text.startswith("/"):
        c.problem(f"CLOUDAGENT_STATE_DIR: {state_text!r} is relative; use an absolute path")
    root = os.geteuid() == 0 if is_root is None else is_root
    log_level = (c.get("CLOUDAGENT_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        c.problem(f"CLOUDAGENT_LOG_LEVEL: {log_level!r}; use DEBUG, INFO, WARNING or ERROR")
        log_level = "INFO"

    state_dir = Path(state_text)
    rpc_auth = c.secret("SERF_RPC_AUTH")
    if rpc_auth is None and not (c.get("SERF_RPC_AUTH") or c.get("SERF_RPC_AUTH_FILE")):
        rpc_auth = _generated_token(state_dir / RPC_TOKEN_FILE, c.read_file)
    services, http_listen, log_format, cycle_stale = _service_settings(c)

    config = Config(
        role=role_text,  # type: ignore[arg-type]  # checked against ROLES above
        node_name=node_name,
        domain=domain,
        join=join,
        advertise=advertise,
        encrypt_key=c.secret("SERF_ENCRYPT_KEY", encrypt_key),
        rpc_auth=rpc_auth,
        serf_bind=serf_bind,
        serf_rpc=serf_rpc,
        dns_listen=dns_listen,
        dns_upstream=upstream,
        state_dir=state_dir,
        failed_grace=grace,
        serf_bin=c.get("CLOUDAGENT_SERF_BIN") or "serf",
        dnsmasq_bin=c.get("CLOUDAGENT_DNSMASQ_BIN") or "dnsmasq",
        dnsmasq_user=c.get("CLOUDAGENT_DNSMASQ_USER") or ("nobody" if root else None),
        log_level=log_level,
        resolv_conf=Path(resolv) if (resolv := c.get("CLOUDAGENT_RESOLV_CONF")) else None,
        rack=c.parse("CLOUDAGENT_RACK", DEFAULT_RACK, parse_rack),
        dns_ttl=c.parse("CLOUDAGENT_DNS_TTL", 0, parse_ttl),
        advertise_cidr=c.parse(
            "CLOUDAGENT_ADVERTISE_CIDR", None, lambda v: ipaddress.ip_network(v, strict=False)
        ),
        dns_authoritative=c.parse("CLOUDAGENT_DNS_AUTHORITATIVE", (), parse_networks),
        services=services,
        http_listen=http_listen,
        log_format=log_format,
        cycle_stale=cycle_stale,
        serf_profile=_serf_profile(c),
    )
    if config.dns_authoritative and config.dns_upstream != ():
        c.problems.append(
            "CLOUDAGENT_DNS_AUTHORITATIVE: dnsmasq's authoritative mode refuses every name "
            "outside the cluster domain, so it cannot forward; set DNS_UPSTREAM=none or unset it"
        )
    if config.resolv_conf is not None and dns_listen.port != 53:
        c.problem(
            f"CLOUDAGENT_RESOLV_CONF: resolv.conf cannot name a port, but dnsmasq listens on "
            f"{dns_listen}; use port 53 or unset CLOUDAGENT_RESOLV_CONF"
        )
    return config


def _generated_token(path: Path, read_file: Callable[[Path], str]) -> Secret | None:
    """The token a running (or earlier) agent generated, if this user may read it."""
    try:
        token = read_file(path).strip()
    except OSError:  # none yet, or not ours to read: serf will say authentication is required
        return None
    return Secret(token) if token else None


def _service_settings(
    c: Collector,
) -> tuple[tuple[Service, ...], Endpoint | None, str, float]:
    """The services, HTTP, log format and health-bound variables."""
    log_format = (c.get("CLOUDAGENT_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        c.problem(f"CLOUDAGENT_LOG_FORMAT: {log_format!r}; use text or json")
        log_format = "text"
    raw_http = c.get("CLOUDAGENT_HTTP_LISTEN")
    http_listen = (
        None
        if raw_http is not None and raw_http.lower() == "off"
        else c.parse("CLOUDAGENT_HTTP_LISTEN", DEFAULT_HTTP, lambda v: ip_endpoint(v, None))
    )
    none: tuple[Service, ...] = ()
    services = c.parse("CLOUDAGENT_SERVICES", none, load_services)
    return (
        services,
        http_listen,
        log_format,
        c.parse("CLOUDAGENT_CYCLE_STALE", 30.0, parse_duration),
    )
