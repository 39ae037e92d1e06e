"""Which address to advertise on a multi-homed host (CLOUDAGENT_ADVERTISE_CIDR).

A host with several interfaces (a Docker bridge, a VPN, a second NIC) lets Serf pick one, and
Serf may pick the gateway-facing one; every DataNode then registers under the same wrong
address. Naming the cluster network picks the interface address inside it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cloudagent.config import Config
from cloudagent.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class InterfaceAddress:
    """One address of one interface."""

    interface: str
    address: str


def choose(addresses: Iterable[InterfaceAddress], network: Network) -> str | None:
    """The first interface address inside ``network`` (interfaces in the kernel's order).

    >>> addrs = [InterfaceAddress("eth0", "172.17.0.2"), InterfaceAddress("eth1", "10.20.3.4")]
    >>> choose(addrs, ipaddress.ip_network("10.20.0.0/16"))
    '10.20.3.4'
    >>> choose(addrs, ipaddress.ip_network("10.9.0.0/16")) is None
    True
    """
    for entry in addresses:
        try:
            if ipaddress.ip_address(entry.address) in network:
                return entry.address
        except ValueError:
            continue
    return None


def parse_ip_json(text: str) -> list[InterfaceAddress]:
    """Addresses from ``ip -j addr`` output.

    >>> parse_ip_json('[{"ifname":"lo","addr_info":[{"local":"127.0.0.1"}]}]')
    [InterfaceAddress(interface='lo', address='127.0.0.1')]
    """
    found = []
    for link in json.loads(text or "[]"):
        for info in link.get("addr_info") or []:
            if isinstance(info.get("local"), str):
                found.append(InterfaceAddress(str(link.get("ifname", "?")), info["local"]))
    return found


def interface_addresses() -> list[InterfaceAddress]:
    """This host's interface addresses, from iproute2 (``ip -j addr``)."""
    try:
        done = subprocess.run(
            ["ip", "-j", "addr"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(
            [
                f"CLOUDAGENT_ADVERTISE_CIDR: cannot list interfaces with 'ip -j addr' ({exc}); "
                "install iproute2 or set SERF_ADVERTISE_IP"
            ]
        ) from None
    return parse_ip_json(done.stdout)


def resolve_advertise(
    cfg: Config, list_addresses: Callable[[], Sequence[InterfaceAddress]] = interface_addresses
) -> Config:
    """``cfg`` with ``advertise`` chosen from CLOUDAGENT_ADVERTISE_CIDR when SERF_ADVERTISE_IP
    is not set; unchanged otherwise. Raises ConfigError when no interface is inside it."""
    if cfg.advertise is not None or cfg.advertise_cidr is None:
        return cfg
    addresses = list_addresses()
    chosen = choose(addresses, cfg.advertise_cidr)
    if chosen is None:
        have = ", ".join(f"{a.interface} {a.address}" for a in addresses) or "none"
        raise ConfigError(
            [
                f"CLOUDAGENT_ADVERTISE_CIDR: no interface address inside {cfg.advertise_cidr} "
                f"(this host has: {have}); name a network this host is on, or set SERF_ADVERTISE_IP"
            ]
        )
    return dataclasses.replace(cfg, advertise=chosen)
