"""This node's resolvers: where names outside the cluster domain go (``DNS_UPSTREAM``, or the
nameservers the node started with), and pointing the node's own resolv.conf at its dnsmasq."""

from __future__ import annotations

import logging
from pathlib import Path

from cloudagent.config import Config
from cloudagent.daemon.state import load_text
from cloudagent.endpoint import Endpoint
from cloudagent.files import read_text, write_atomic
from cloudagent.values import resolv_conf_upstreams

log = logging.getLogger("cloudagent.daemon.agent")

MANAGED_RESOLV = (
    "# Written by cloudagent (CLOUDAGENT_RESOLV_CONF): this node resolves at its dnsmasq."
)


def upstreams(config: Config, original_copy: Path, resolv_conf: Path) -> tuple[Endpoint, ...]:
    """dnsmasq's upstream servers: ``DNS_UPSTREAM``, else the resolvers this node started with
    (saved in ``original_copy`` before resolv.conf was taken over), never ourselves."""
    if config.dns_upstream is not None:
        return config.dns_upstream
    original = load_text(original_copy) or read_text(resolv_conf) or ""
    found = resolv_conf_upstreams(original, config.dns_listen)
    if not found:
        log.warning(
            "no upstream resolver in %s: names outside %s will not resolve",
            resolv_conf,
            config.domain,
        )
    return found


def take_over_resolv_conf(path: Path, listen: Endpoint, domain: str, original_copy: Path) -> None:
    """Point this node's resolver at its own dnsmasq (CLOUDAGENT_RESOLV_CONF), keeping the
    original once in ``original_copy``."""
    current = read_text(path) or ""
    if MANAGED_RESOLV not in current and not original_copy.exists():
        write_atomic(original_copy, current)
    text = f"{MANAGED_RESOLV}\nnameserver {listen.host}\nsearch {domain}\n"
    if current != text:
        # In place: Docker bind-mounts /etc/resolv.conf, so a rename over it would fail.
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
        log.info("%s now points at this node's dnsmasq (%s)", path, listen)
