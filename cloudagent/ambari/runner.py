"""Ambari beside the DNS loop: the server process and provisioning (server role), and on
every node the agent pointed at the server. Fed membership snapshots; never blocks DNS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cloudagent.ambari.agentconf import DEFAULT_INI, set_server_hostname
from cloudagent.ambari.election import ACTING, SINCE, Election, elect, parse_since
from cloudagent.ambari.settings import AmbariSettings
from cloudagent.config import Config
from cloudagent.daemon.supervise import Child
from cloudagent.errors import CloudagentError
from cloudagent.files import read_text, write_atomic
from cloudagent.members import Membership

if TYPE_CHECKING:
    from cloudagent.ambari.provision import Provisioner, ProvisionStatus

log = logging.getLogger(__name__)
PublishTags = Callable[[dict[str, str]], Awaitable[None]]


# A server that sees nobody else yet, but has a cluster to join (SERF_JOIN_IP, or it served
# before and rejoins from its snapshot), does not claim to act for this long: it would
# otherwise act alone for the seconds its join takes, beside a server that already acts.
JOIN_SETTLE = 30.0


def load_since(path: Path, now: float) -> tuple[int, bool]:
    """This node's ``ambari-since`` from the state directory, or written there once now; and
    whether it was new."""
    try:
        since = parse_since((read_text(path) or "").strip())
        if since is not None:
            return since, False
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)  # before the daemon's set-up
        write_atomic(path, f"{int(now)}\n")
    except OSError as exc:
        raise CloudagentError(
            f"{path}: cannot keep the server's ambari-since ({exc.strerror or exc}); "
            "make CLOUDAGENT_STATE_DIR a writable directory"
        ) from None
    return int(now), True


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
        self.server_task: asyncio.Task[None] | None = None
        self.since: int | None = None
        self.rejoining = bool(config.join)
        if config.role == "server":
            self.since, new = load_since(state_dir / "ambari-since", time.time())
            self.rejoining = self.rejoining or not new
        self.election: Election | None = None
        self.acting: bool | None = None  # None until the first decision is announced
        self._started = time.monotonic()
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

    def initial_tags(self) -> dict[str, str]:
        """Tags to gossip from the start: a server's ``ambari-since``, and that it is not acting."""
        if self.since is None:
            return {}
        return {SINCE: str(self.since), ACTING: "no"}

    def update(
        self, membership: Membership, failed_since: Mapping[str, float] | None = None
    ) -> None:
        """A fresh membership snapshot (called by the DNS loop; cheap): elect the acting server."""
        self.membership = membership
        election = elect(
            membership.members, failed_since or {}, time.time(), self.config.failed_grace
        )
        previous = self.election
        self.election = election
        if previous is None or (previous.acting_name(), previous.candidates, previous.ignored) != (
            election.acting_name(),
            election.candidates,
            election.ignored,
        ):
            log.info("%s", election.describe(self.config.node_name, self.config.domain))
        self._changed.set()

    def _should_act(self) -> bool:
        """This server node acts: elected, and not alone while it still has a cluster to join."""
        if self.election is None or self.membership is None:
            return False
        if not self.election.is_acting(self.config.node_name):
            return False
        alone = all(m.name == self.config.node_name for m in self.membership.members)
        settling = time.monotonic() - self._started < JOIN_SETTLE
        return not (alone and self.rejoining and settling)

    async def run(self) -> None:
        """Run the Ambari side until cancelled: agent pointing, server process, provisioning."""
        tasks = [asyncio.create_task(self._point_agent())]
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

    async def _take_role(self, acting: bool) -> None:
        """Become the acting server (start Ambari, say so in tags) or a standby (stop it)."""
        self.acting = acting
        if acting and self.settings.server_command:
            self.server = Child(
                "ambari-server",
                self.settings.server_command,
                restart_on_success=False,
                fatal_after=None,
            )
            self.server_task = asyncio.create_task(self.server.run())
        elif not acting and self.server is not None:
            await self.server.stop()
            if self.server_task is not None:
                await asyncio.gather(self.server_task, return_exceptions=True)
            self.server = self.server_task = None
        tags = {ACTING: "yes" if acting else "no"}
        if not acting:
            tags["ambari-phase"] = "standby"
        await self.publish(tags)
        log.info(
            "ambari: %s",
            "acting Ambari server from now on: provisioning resumes from Ambari's state"
            if acting
            else "standby: this node runs no Ambari server and creates nothing; "
            "its agent points at the acting server",
        )

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
            acting = self.election.acting if self.election else None
            server = acting.fqdn(self.config.domain) if acting else None
            if server is None or server == self.pointed_at:
                continue
            try:
                self._write_ini(ini, server)
            except (OSError, UnicodeDecodeError) as exc:
                # Keep the agent where it points; try again (a full disk may be freed).
                log.error(
                    "cannot point ambari-agent at %s: %s; retrying in %.0fs", server, exc, 5.0
                )
                await asyncio.sleep(5.0)
                self._changed.set()
                continue
            log.info(
                "ambari-agent points at %s%s",
                server,
                f" (was {self.pointed_at})" if self.pointed_at else "",
            )
            self.pointed_at = server
            await self._restart_agent()
            self._changed.set()  # re-check at once in case the membership moved meanwhile

    @staticmethod
    def _write_ini(ini: Path, server: str) -> None:
        text = read_text(ini)
        if text is None:
            log.info("%s missing; writing Ambari's default agent configuration", ini)
            ini.parent.mkdir(parents=True, exist_ok=True)
            text = DEFAULT_INI
        updated = set_server_hostname(text, server)
        if updated != text or not ini.exists():
            write_atomic(ini, updated, mode=(ini.stat().st_mode & 0o777) if ini.exists() else 0o644)

    async def _restart_agent(self) -> None:
        if not self.settings.agent_command:
            return
        if self.agent is not None:
            await self.agent.stop()
            if self.agent_task is not None:
                await asyncio.gather(self.agent_task, return_exceptions=True)
        self.agent = Child(
            "ambari-agent", self.settings.agent_command, restart_on_success=False, fatal_after=None
        )
        self.agent_task = asyncio.create_task(self.agent.run())

    async def _provision(self, provisioner: Provisioner) -> None:
        while True:
            await self._wait_change(self.settings.poll)
            if self.membership is None:
                continue
            acting = self._should_act()
            if acting is not self.acting:
                await self._take_role(acting)
                self.status = None
            if not acting:
                continue  # a standby creates nothing: the acting server provisions
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
