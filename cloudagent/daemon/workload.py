"""The node's service beside the DNS loop: supervised like the Ambari commands, and for a
ZooKeeper node started once the ensemble is known and restarted when its server list changes.

Fed membership snapshots by the loop; never blocks DNS. Stopped after the Serf leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from cloudagent.config import Config
from cloudagent.daemon.supervise import Child
from cloudagent.files import ManagedFile, read_text
from cloudagent.members import Membership
from cloudagent.workload import ServiceSettings, child_environment
from cloudagent.zookeeper import TAG, Ensemble, myid_text, servers_in

log = logging.getLogger(__name__)


class ZkPaths:
    """Where the ZooKeeper files live under the state dir (zoo.cfg, data/myid)."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "zookeeper"
        self.cfg = self.root / "zoo.cfg"
        self.data = self.root / "data"
        self.myid = self.data / "myid"


class ServiceRole:
    """The node's service: started, supervised, reconfigured and stopped by the agent."""

    def __init__(
        self,
        config: Config,
        settings: ServiceSettings,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.env = child_environment(os.environ if environ is None else environ)
        self.paths = ZkPaths(config.state_dir)
        self.ensemble: Ensemble | None = None
        if settings.zk_id is not None:
            self.ensemble = Ensemble(
                settings.zk_id,
                config.fqdn,
                config.domain,
                self.paths.data,
                expected=settings.zk_ensemble,
                known=servers_in(read_text(self.paths.cfg)),
            )
        self.child: Child | None = None
        self._child_task: asyncio.Task[None] | None = None
        self._membership: Membership | None = None
        self._changed = asyncio.Event()

    def tags(self) -> dict[str, str]:
        """The tags this node gossips for its service."""
        return {TAG: str(self.settings.zk_id)} if self.settings.zk_id is not None else {}

    def update(self, membership: Membership) -> None:
        """A fresh membership snapshot (called by the DNS loop; cheap)."""
        self._membership = membership
        self._changed.set()

    async def run(self) -> None:
        """Start the service (a ZooKeeper node: once its ensemble is known) and follow changes."""
        try:
            if self.ensemble is not None:
                await self._follow(self.ensemble)
            else:
                await self._restart()
                await asyncio.Event().wait()  # the child task supervises; nothing else to do
        finally:
            if self._child_task is not None:
                self._child_task.cancel()

    async def _follow(self, ensemble: Ensemble) -> None:
        self.paths.data.mkdir(parents=True, exist_ok=True)
        cfg = ManagedFile(self.paths.cfg)
        ManagedFile(self.paths.myid).write(myid_text(ensemble.my_id))
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._membership is None:
                continue
            step = ensemble.step(self._membership)
            for problem in step.new_problems:
                log.warning("zookeeper: %s", problem)
            written = cfg.write(step.cfg_text)
            if written or step.action != "keep":
                log.info("%s%s", step.summary(), f"; wrote {cfg.path}" if written else "")
            if step.action in ("start", "restart"):
                await self._restart()

    async def _restart(self) -> None:
        if not self.settings.command:
            return
        if self.child is not None:
            await self.child.stop()
        if self._child_task is not None:
            await asyncio.gather(self._child_task, return_exceptions=True)
        # The service is the user's program: keep retrying it (with backoff) rather than stop
        # the agent, whose DNS does not depend on it.
        self.child = Child("service", self.settings.command, env=self.env, fatal_after=None)
        self._child_task = asyncio.create_task(self.child.run(), name="service-child")

    async def stop(self) -> None:
        """Stop the service (after the agent left the Serf cluster)."""
        if self.child is not None:
            await self.child.stop()
        if self._child_task is not None:
            self._child_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._child_task
