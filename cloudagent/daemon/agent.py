"""The daemon: wires serf, dnsmasq, the membership loop, service names, observability and
Ambari together, and supervises them. The loop itself (cloudagent/daemon/loop.py) only sees
narrow seams; this module builds the real ones, handles signals, and runs the graceful
shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from cloudagent.config import Config
from cloudagent.daemon.doctorserve import answer_doctor_queries
from cloudagent.daemon.hooks import CycleFeed
from cloudagent.daemon.loop import RESYNC, MembershipLoop
from cloudagent.daemon.observe import Observability
from cloudagent.daemon.resolver import take_over_resolv_conf, upstreams
from cloudagent.daemon.seams import Clock, DnsmasqHosts, SerfSession, SystemClock
from cloudagent.daemon.servicedns import ServiceDns
from cloudagent.daemon.state import (
    StatePaths,
    load_arrivals,
    load_failures,
    load_text,
    prepare_state_dir,
)
from cloudagent.daemon.status import Status, StatusFile
from cloudagent.daemon.supervise import Child
from cloudagent.daemon.tasks import TaskSupervisor
from cloudagent.daemon.topology import TopologyFile
from cloudagent.dns.dnsmasq import Dnsmasq
from cloudagent.dns.render import render_dnsmasq_conf
from cloudagent.dns.reverse import local_reverse_zones
from cloudagent.endpoint import Endpoint
from cloudagent.errors import CloudagentError
from cloudagent.files import ManagedFile, write_atomic
from cloudagent.keyring import keyring_path, record_join_problem, seed_keyring
from cloudagent.members import Membership
from cloudagent.pacing import Pacer
from cloudagent.reconcile import Reconciler
from cloudagent.secret import Secret
from cloudagent.serf.process import (
    MEMBER_CHANGE,
    diagnose_serf,
    log_serf_line,
    member_event,
    serf_argv,
    serf_config,
)
from cloudagent.serf.rpc import SerfError, SerfRPC
from cloudagent.services import TAG as SERVICES_TAG
from cloudagent.services import format_services
from cloudagent.topology import RACK_TAG

if TYPE_CHECKING:
    from cloudagent.ambari.runner import AmbariRole
    from cloudagent.ambari.settings import AmbariSettings
    from cloudagent.daemon.workload import ServiceRole
    from cloudagent.workload import ServiceSettings

log = logging.getLogger(__name__)

LEAVE_TIMEOUT = 15.0
STATUS_EVERY = 1.0  # seconds between refreshes of the status file `cloudagent health` reads


class Agent:
    """One node's agent. ``await Agent(config).run()`` until SIGTERM/SIGINT."""

    def __init__(
        self,
        config: Config,
        *,
        resolv_conf: Path = Path("/etc/resolv.conf"),
        pacer: Pacer | None = None,
        resync: float = RESYNC,
        ambari: AmbariSettings | None = None,
        service: ServiceSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.paths = StatePaths(config.state_dir)
        self.resolv_conf = config.resolv_conf or resolv_conf
        self.clock = clock or SystemClock()
        self.health = Status(pid=os.getpid(), started=self.clock.time())
        self.status = StatusFile(self.paths.health)
        self.fatal: str | None = None
        self._stop = asyncio.Event()
        self.tasks = TaskSupervisor(self.health, self._on_fatal)
        self.tags: dict[str, str] = {"role": config.role, RACK_TAG: config.rack}
        if config.services:
            self.tags[SERVICES_TAG] = format_services(config.services)
        self.topology = TopologyFile(config.state_dir, config.domain)
        self.dnsmasq = Dnsmasq(
            config.dnsmasq_bin,
            self.paths.dnsmasq_conf,
            self.paths.hosts,
            pid_file=self.paths.root / "dnsmasq.pid",
            on_reload=lambda s: self.observe.metrics.reload_seconds.observe(s),  # noqa: PLW0108 - observe comes later
        )
        self.services = ServiceDns(
            self.paths.dns_dir, self.paths.root / "services.json", config.domain
        )
        self.serf = Child(
            "serf",
            serf_argv(config, self.paths.serf_config),
            on_line=self._on_serf_line,
            pid_file=self.paths.root / "serf.pid",
            diagnose=diagnose_serf,
        )
        self.loop: MembershipLoop | None = None
        self.pacer = pacer
        self.resync = resync
        self.ambari: AmbariRole | None = None
        if ambari is not None and ambari.enabled:
            from cloudagent.ambari.runner import AmbariRole  # noqa: PLC0415 - only when Ambari is on

            self.ambari = AmbariRole(config, ambari, config.state_dir, self.publish)
            self.tags.update(self.ambari.initial_tags())  # the election's tags, from the start
        self.service: ServiceRole | None = None
        if service is not None and service.active:
            from cloudagent.daemon.workload import ServiceRole  # noqa: PLC0415 - only with a service

            self.service = ServiceRole(config, service)
            self.tags.update(self.service.tags())
        self.observe = Observability(
            config,
            children={"serf": self.serf, "dnsmasq": self.dnsmasq.child},
            rpc_up=lambda: self.loop is not None and self.loop.rpc is not None,
            ambari=lambda: self.ambari.status if self.ambari is not None else None,
        )

    # --- set-up ---------------------------------------------------------------------------

    def _ensure_rpc_token(self) -> None:
        """Closed by default: without SERF_RPC_AUTH, any local user could make serf leave."""
        if self.config.rpc_auth is not None:
            return
        token = Secret(secrets.token_urlsafe(32))
        write_atomic(self.config.rpc_token_file, token.reveal() + "\n", mode=0o600)
        self.config = dataclasses.replace(self.config, rpc_auth=token)
        log.info(
            "serf RPC requires a token now; generated one in %s (0600), where cloudagent's "
            "own commands read it",
            self.config.rpc_token_file,
        )

    def _build_loop(self) -> MembershipLoop:
        """Read the last good state (setting aside what is damaged) and wire the loop."""
        cfg = self.config
        reconciler = Reconciler(
            cfg.domain,
            cfg.failed_grace,
            arrivals=load_arrivals(self.paths.arrivals),
            self_name=cfg.node_name,
            remembered=load_failures(self.paths.failures),
        )
        # Derived state, rebuilt at start: no directory fsync on the hot path (the file's stays).
        hosts = ManagedFile(self.paths.hosts, read=load_text, sync_dir=False)
        if hosts.text is None:
            # No last good state yet: dnsmasq starts with an empty (but valid) hosts file.
            self._write_once(hosts.path, reconciler.step([], self.clock.time()).hosts_text)
            hosts = ManagedFile(self.paths.hosts, read=load_text, sync_dir=False)
        else:
            log.info("serving the last hosts file until Serf answers (%s)", self.paths.hosts)
        failures = ManagedFile(self.paths.failures, read=load_text)

        async def connect() -> SerfSession:
            return await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, 5.0)

        def join_problem(problem: str | None) -> None:
            with contextlib.suppress(OSError):  # a full disk must not end the join retries
                record_join_problem(cfg.state_dir, problem)

        ambari = self.ambari

        def membership_changed(membership: Membership) -> None:
            if ambari is not None:
                ambari.update(membership, reconciler.failed_since)

        return MembershipLoop(
            node_name=cfg.node_name,
            join=[str(e) for e in cfg.join],
            reconciler=reconciler,
            hosts=DnsmasqHosts(hosts, self.dnsmasq),
            failures=failures,
            members=connect,
            clock=self.clock,
            health=self.health,
            pacer=self.pacer,
            resync=self.resync,
            tags=self.tags,
            hooks=CycleFeed(
                services=self.services,
                topology=self.topology,
                observe=self.observe,
                service=self.service,
                reconciler=reconciler,
                arrivals=self.paths.arrivals,
            ),
            on_join_problem=join_problem,
            on_membership=membership_changed,
            offload=asyncio.to_thread,
        )

    @staticmethod
    def _write_once(path: Path, text: str, mode: int = 0o644) -> None:
        """A start-up file: written when it differs; a failure ends the start with one line."""
        if load_text(path) == text:
            return  # unchanged: nothing to write, even on a full disk
        try:
            write_atomic(path, text, mode=mode)
        except OSError as exc:
            raise CloudagentError(
                f"cannot write {path}: {exc.strerror or exc}; free space in, or make writable, "
                f"{path.parent}"
            ) from exc

    def _write_configs(self, srv_port: int) -> None:
        prepare_state_dir(self.paths, self.config.dnsmasq_user)
        self._ensure_rpc_token()
        self.services.ensure_file()
        self.loop = self._build_loop()
        self._write_once(
            self.paths.dnsmasq_conf,
            render_dnsmasq_conf(
                listen=self.config.dns_listen,
                hosts_file=self.paths.hosts,
                domain=self.config.domain,
                upstreams=upstreams(self.config, self.paths.resolv_conf_orig, self.resolv_conf),
                user=self.config.dnsmasq_user,
                ttl=self.config.dns_ttl,
                authoritative=self.config.dns_authoritative,
                services_hosts=self.services.hosts.path,
                srv=Endpoint(self.services.responder.host, srv_port),
                reverse_zones=local_reverse_zones(self.config.serf_bind.host),
            ),
        )
        if self.config.resolv_conf is not None:
            take_over_resolv_conf(
                self.config.resolv_conf,
                self.config.dns_listen,
                self.config.domain,
                self.paths.resolv_conf_orig,
            )
        self._write_once(
            self.paths.serf_config,
            json.dumps(serf_config(self.config, self.tags, self._keyring()), indent=2) + "\n",
            mode=0o600,
        )
        try:
            self.status.open()
        except OSError as exc:
            log.error(
                "cannot create %s (%s): 'cloudagent health' will report this node unhealthy",
                self.paths.health,
                exc.strerror or exc,
            )

    def _keyring(self) -> Path | None:
        path = keyring_path(self.config.state_dir)
        return path if seed_keyring(path, self.config.encrypt_key) else None

    # --- run ------------------------------------------------------------------------------

    async def publish(self, tags: dict[str, str]) -> None:
        """Gossip these tags (kept, and re-applied whenever serf restarts)."""
        if self.loop is not None:
            await self.loop.publish(tags)

    def stop(self) -> None:
        """Ask the agent to stop (from a signal handler)."""
        self.tasks.stopping = True  # tasks that end from now on are not restarted
        self._stop.set()
        if self.loop is not None:
            self.loop.stop()

    def wake(self) -> None:
        """Ask for a cycle now (SIGHUP, or a serf log line saying the membership changed)."""
        if self.loop is not None:
            self.loop.wake()

    def _on_fatal(self, reason: str) -> None:
        if self.fatal is None:
            self.fatal = reason
            self.health.fatal = reason
            log.critical("cannot continue: %s", reason)
        self.stop()

    async def run(self) -> int:
        """Run until stopped; returns the exit status (1 after an error that never heals)."""
        self._write_configs(await self.services.start())
        assert self.loop is not None  # noqa: S101 - built just above
        if self.observe.http is not None:
            self.observe.http.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.wake)
        log.info(
            "starting %s as %s (%s)", self.config.fqdn, self.config.role, self.config.summary()
        )
        if self.config.encrypt_key is None:
            log.warning(
                "gossip is open: SERF_ENCRYPT_KEY is not set, so any host that reaches %s can "
                "join this cluster and claim names; give every node the same key "
                "(SERF_ENCRYPT_KEY_FILE, made with 'serf keygen')",
                self.config.serf_bind,
            )
        tasks = self.tasks
        tasks.start("dnsmasq", self.dnsmasq.run)
        tasks.start("serf", self.serf.run)
        tasks.start("serf-rpc", self.loop.sessions)
        tasks.start("reconcile", self.loop.reconcile)
        tasks.start("status", self._report)
        config = self.config
        tasks.start("doctor", lambda: answer_doctor_queries(config))
        if self.ambari is not None:
            tasks.start("ambari", self.ambari.run)
        if self.service is not None:
            tasks.start("service", self.service.run)
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(tasks)
        return 1 if self.fatal else 0

    async def _report(self) -> None:
        """Refresh the status file every second (a stale one means we are stuck)."""
        failing = False
        while not self._stop.is_set():
            try:
                self.status.write(self.health.document(self.clock.time()))
                failing = False
            except OSError as exc:
                if not failing:
                    log.error("cannot refresh %s: %s", self.paths.health, exc.strerror or exc)
                failing = True
            await self.clock.wait(self._stop, STATUS_EVERY)

    async def _shutdown(self, tasks: TaskSupervisor) -> None:
        assert self.loop is not None  # noqa: S101 - run() built it
        if self.ambari is not None:
            await self.ambari.stop()
        # Nothing is restarted from here on, whatever exits.
        self.serf.stop_restarting()
        self.dnsmasq.stop_restarting()
        if self.fatal is None or self.serf.pid is not None:
            log.info("stopping: leaving the Serf cluster")
            await self._leave(self.loop)
        if not await self.serf.wait_exit(LEAVE_TIMEOUT):
            await self.serf.stop()
        if self.service is not None:  # after the leave: peers drop us from DNS first
            await self.service.stop()
        await self.dnsmasq.stop()
        await self.services.stop()
        if self.observe.http is not None:
            self.observe.http.stop()
        await tasks.cancel_all()
        if self.loop.rpc is not None:
            await self.loop.rpc.close()
        self.health.tasks.clear()
        self.status.close(self.health.document(self.clock.time()) | {"stopped": True})
        log.info("stopped")

    async def _leave(self, loop: MembershipLoop) -> None:
        # Leave first, so peers drop us from DNS at once instead of after failure detection.
        try:
            if not await loop.leave():
                rpc = await SerfRPC.connect(self.config.serf_rpc, self.config.rpc_auth, 5.0)
                try:
                    await rpc.leave()
                finally:
                    await rpc.close()
        except SerfError as exc:
            log.warning("graceful leave failed (%s); peers will see this node as failed", exc)

    def _on_serf_line(self, line: str) -> None:
        if MEMBER_CHANGE.search(line):
            event = member_event(line)
            if event is not None and self.loop is not None:
                self.loop.fast_path(event)
            self.wake()  # the full read that confirms (or corrects) the fast path
        log_serf_line(line)
