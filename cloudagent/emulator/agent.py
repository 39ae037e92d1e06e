"""An emulated ambari-agent, faithful in the parts that depend on us.

Like the real agent it reads ``[server] hostname`` and ``url_port`` from ambari-agent.ini,
resolves the server's name through the system resolver, reports ``socket.getfqdn()``
lower-cased as its own name, registers, and heartbeats (re-registering when told to). On a
machine where several emulated nodes share one host (the loopback demo), ``--resolver`` and
``--hostname-from-ptr`` make it ask a node's own dnsmasq the same two questions.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudagent.ambari.agentconf import read_settings
from cloudagent.backoff import Backoff
from cloudagent.dns.query import DNSError, Lookup
from cloudagent.endpoint import Endpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """How the agent resolves names: the system resolver, or one DNS server."""

    resolver: Endpoint | None = None
    ptr_address: str | None = None
    hostname: str | None = None

    def own_name(self) -> str:
        """The name the agent reports: getfqdn(), lower-cased (Ambari's hostname.py)."""
        if self.hostname:
            return self.hostname.lower()
        if self.ptr_address and self.resolver:
            names = Lookup(self.resolver).names(self.ptr_address)
            if not names:
                raise OSError(f"no PTR record for {self.ptr_address} at {self.resolver}")
            return names[0].lower()
        return socket.getfqdn().lower()

    def resolve(self, name: str) -> str:
        """The server's address, as the agent's resolver answers."""
        if self.resolver is None:
            return str(socket.getaddrinfo(name, None, socket.AF_INET)[0][4][0])
        addresses = Lookup(self.resolver).addresses(name)
        if not addresses:
            raise OSError(f"{name}: NXDOMAIN at {self.resolver}")
        return addresses[0]


def _post(url: str, doc: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - http only, to the configured server
        url,
        data=json.dumps(doc).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        reply: dict[str, Any] = json.loads(response.read() or b"{}")
        return reply


def run_agent(
    config: Path,
    identity: Identity,
    agent_version: str,
    interval: float,
    stop: threading.Event | None = None,
) -> int:
    """Register and heartbeat until stopped (SIGTERM); retry with backoff when unreachable."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = read_settings(config.read_text(encoding="utf-8"))
    backoff = Backoff(
        initial=min(1.0, settings.connect_retry_delay), maximum=settings.max_reconnect_retry_delay
    )
    response_id = -1
    name = ""
    while not stop.is_set():
        try:
            if response_id < 0:
                name = identity.own_name()
                address = identity.resolve(settings.server)
                base = f"http://{address}:{settings.url_port}/agent/v1"
                reply = _post(
                    f"{base}/register/{name}",
                    {
                        "responseId": -1,
                        "timestamp": int(time.time() * 1000),
                        "hostname": name,
                        "publicHostname": name,
                        "currentPingPort": 8670,
                        "agentVersion": agent_version,
                        "hardwareProfile": {"hostname": name, "fqdn": name, "os_type": "redhat7"},
                        "agentEnv": {},
                        "prefix": "/var/lib/ambari-agent/data",
                    },
                )
                if reply.get("response") != "OK":
                    log.error("registration refused: %s", reply.get("log"))
                    stop.wait(backoff.next())
                    continue
                response_id = int(reply.get("responseId", 0))
                log.info("registered with %s as %s", settings.server, name)
                backoff.reset()
            reply = _post(
                f"{base}/heartbeat/{name}",
                {
                    "responseId": response_id,
                    "timestamp": int(time.time() * 1000),
                    "hostname": name,
                    "nodeStatus": {"status": "HEALTHY", "cause": "NONE"},
                    "componentStatus": [],
                    "reports": [],
                },
            )
            if "registrationCommand" in reply:
                log.info("server asked to register again")
                response_id = -1
                continue
            response_id = int(reply.get("responseId", response_id + 1))
            stop.wait(interval)
        except (OSError, urllib.error.URLError, DNSError, ValueError) as exc:
            response_id = -1
            delay = backoff.next()
            log.warning(
                "cannot reach the Ambari server %s (%s); retrying in %.1fs",
                settings.server,
                exc,
                delay,
            )
            stop.wait(delay)
    return 0
