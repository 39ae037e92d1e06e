"""Ambari beside the DNS loop: the server process and provisioning (server role), and on
every node the agent pointed at the server. Fed membership snapshots; never blocks DNS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cloudagent.ambari.agentconf import DEFAULT_INI, set_server_hostname
from cloudagent.ambari.settings import AmbariSettings
from cloudagent.config import Config
from cloudagent.daemon.supervise import Child
from cloudagent.files import read_text, write_atomic
from cloudagent.members import Membership, Status

if TYPE_CHECKING:
    from cloudagent.ambari.provision import Provisioner, ProvisionStatus

log = logging.getLogger(__name__)
PublishTags = Callable[[dict[str, str]], Awaitable[None]]


def server_fqdn(membership: Membership, domain: str) -> str | None:
    """The Ambari server: the alive member tagged role=server (the first by name if several)."""
    servers = sorted(
        m.fqdn(domain)
        for m in membership.members
        if m.role == "server" and m.status is Status.ALIVE
    )
    if len(servers) > 1:
        log.warning(
            "several members have role=server (%s); using %s", ", ".join(servers), servers[0]
        )
    return servers[0] if servers else None


class AmbariRole:
    """The Ambari side of one node."""

    def __init__(
        self, config: Config, settings: AmbariSettings, state_dir: Path, publish: PublishTags
    ) -> None:
        self.config = config
        self.settings = settings
        self.publish = publish
        self.membership: Membership | None = None
        self._changed = asyncio.Event()
        self.server: Child | None = None
        if config.role == "server" and settings.server_command:
            self.server = Child("ambari-server", settings.server_command, restart_on_success=False)
        self.agent: Child | None = None
        self.agent_task: asyncio.Task[None] | None = None
        self.pointed_at: str | None = None
        self.provisioner: Provisioner | None = None
        if config.role == "server":
            # Only the server provisions; agents never load the REST client (requests).
            from cloudagent.ambari.client import AmbariClient  # noqa: PLC0415
            from cloudagent.ambari.provision import Provisioner  # noqa: PLC0415

            client = AmbariClient(
                settings.url, user=settings.user, password=settings.password, retries=1
            )
            self.provisioner = Provisioner(
                client, settings, config.domain, config.fqdn, state_dir / "provision.json"
            )
        self.status: ProvisionStatus | None = None

    def update(self, membership: Membership) -> None:
        """A fresh membership snapshot (called by the DNS loop; cheap)."""
        self.membership = membership
        self._changed.set()

    async def run(self) -> None:
        """Run the Ambari side until cancelled: agent pointing, server process, provisioning."""
        tasks = [asyncio.create_task(self._point_agent())]
        if self.server is not None:
            tasks.append(asyncio.create_task(self.server.run()))
        if self.provisioner is not None:
            tasks.append(asyncio.create_task(self._provision(self.provisioner)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def stop(self) -> None:
        """Stop the Ambari processes this node started."""
        for child in (self.agent, self.server):
            if child is not None:
                await child.stop()

    async def _wait_change(self, timeout: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        self._changed.clear()

    async def _point_agent(self) -> None:
        """Write ``[server] hostname`` and (re)start the agent when the server changes."""
        ini = self.settings.agent_ini
        while True:
            await self._wait_change()
            if self.membership is None:
                continue
            server = server_fqdn(self.membership, self.config.domain)
            if server is None or server == self.pointed_at:
                continue
            text = read_text(ini)
            if text is None:
                log.info("%s missing; writing Ambari's default agent configuration", ini)
                ini.parent.mkdir(parents=True, exist_ok=True)
                text = DEFAULT_INI
            updated = set_server_hostname(text, server)
            if updated != text or not ini.exists():
                write_atomic(
                    ini, updated, mode=(ini.stat().st_mode & 0o777) if ini.exists() else 0o644
                )
            log.info(
                "ambari-agent points at %s%s",
                server,
                f" (was {self.pointed_at})" if self.pointed_at else "",
            )
            self.pointed_at = server
            await self._restart_agent()
            self._changed.set()  # re-check at once in case the membership moved meanwhile

    async def _restart_agent(self) -> None:
        if not self.settings.agent_command:
            return
        if self.agent is not None:
            await self.agent.stop()
            if self.agent_task is not None:
                await asyncio.gather(self.agent_task, return_exceptions=True)
        self.agent = Child("ambari-agent", self.settings.agent_command, restart_on_success=False)
        self.agent_task = asyncio.create_task(self.agent.run())

    async def _provision(self, provisioner: Provisioner) -> None:
        while True:
            await self._wait_change(self.settings.poll)
            if self.membership is None:
                continue
            status = await asyncio.to_thread(provisioner.step, self.membership)
            previous = self.status
            self.status = status
            if previous is None or (status.phase, status.message) != (
                previous.phase,
                previous.message,
            ):
                level = logging.ERROR if status.phase in ("failed", "error") else logging.INFO
                log.log(level, "ambari: %s: %s", status.phase, status.message)
            if previous is None or status.tags() != previous.tags():
                await self.publish(status.tags())
            if status.phase in ("completed", "failed"):
                await asyncio.sleep(self.settings.poll)  # keep following slowly for scale-ups
