"""The daemon: wires Serf, the reconciler, the hosts file and dnsmasq together.

Data flows one way: serf ``members`` -> Reconciler (pure) -> hosts file -> dnsmasq SIGHUP.
Serf's log lines and events only wake the loop; every cycle reads the full membership, so a
lost or reordered event can leave DNS wrong for at most one cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloudagent.backoff import Backoff
from cloudagent.config import Config, resolv_conf_upstreams
from cloudagent.daemon.doctorserve import answer_doctor_queries
from cloudagent.daemon.observe import Observability
from cloudagent.daemon.servicedns import ServiceDns
from cloudagent.daemon.state import StatePaths, load_arrivals, load_failures, prepare_state_dir
from cloudagent.daemon.supervise import Child
from cloudagent.daemon.topology import TopologyFile
from cloudagent.dns.dnsmasq import Dnsmasq
from cloudagent.dns.render import render_dnsmasq_conf, served_entries
from cloudagent.dns.reverse import local_reverse_zones
from cloudagent.endpoint import Endpoint
from cloudagent.files import ManagedFile, read_text, write_atomic
from cloudagent.keyring import join_problem, keyring_path, record_join_problem, seed_keyring
from cloudagent.pacing import Pacer
from cloudagent.reconcile import Cycle, Reconciler
from cloudagent.secret import Secret
from cloudagent.serf.process import (
    MEMBER_CHANGE,
    log_serf_line,
    member_event,
    serf_argv,
    serf_config,
)
from cloudagent.serf.rpc import SerfError, SerfRPC, SerfRPCError, Subscription
from cloudagent.services import TAG as SERVICES_TAG
from cloudagent.services import format_services
from cloudagent.topology import RACK_TAG

if TYPE_CHECKING:
    from cloudagent.ambari.runner import AmbariRole
    from cloudagent.ambari.settings import AmbariSettings
    from cloudagent.daemon.service import ServiceRole
    from cloudagent.service import ServiceSettings

log = logging.getLogger(__name__)

RESYNC = 10.0  # full re-read of the membership even when nothing woke us
LEAVE_TIMEOUT = 15.0
# A serf that has just (re)started knows only itself until it rejoins. Replacing a hosts file
# that served other members with that view would blank DNS for the rejoin time; keep the last
# good file for up to this long, or until serf knows another member.
SETTLE_HOLD = 30.0
MANAGED_RESOLV = (
    "# Written by cloudagent (CLOUDAGENT_RESOLV_CONF): this node resolves at its dnsmasq."
)


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
    ) -> None:
        self.config = config
        self.paths = StatePaths(config.state_dir)
        self.resolv_conf = config.resolv_conf or resolv_conf
        self.pacer = pacer or Pacer()
        self.resync = resync
        self.tags: dict[str, str] = {"role": config.role, RACK_TAG: config.rack}
        if config.services:
            self.tags[SERVICES_TAG] = format_services(config.services)
        self.rpc: SerfRPC | None = None
        self.writes = 0
        self._session_started = time.monotonic()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        # Derived state, rebuilt at start: no directory fsync on the hot path (the file's stays).
        self.hosts = ManagedFile(self.paths.hosts, sync_dir=False)
        self.topology = TopologyFile(config.state_dir, config.domain)
        self.reconciler = Reconciler(
            config.domain,
            config.failed_grace,
            load_failures(self.paths.failures),
            arrivals=load_arrivals(self.paths.arrivals),
            self_name=config.node_name,
        )
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
        self.ambari: AmbariRole | None = None
        if ambari is not None and ambari.enabled:
            from cloudagent.ambari.runner import AmbariRole  # noqa: PLC0415 - only when Ambari is on

            self.ambari = AmbariRole(config, ambari, config.state_dir, self.publish)
            self.tags.update(self.ambari.initial_tags())  # the election's tags, from the start
        self.service: ServiceRole | None = None
        if service is not None and service.active:
            from cloudagent.daemon.service import ServiceRole  # noqa: PLC0415 - only with a service

            self.service = ServiceRole(config, service)
            self.tags.update(self.service.tags())
        self.serf = Child(
            "serf",
            serf_argv(config, self.paths.serf_config),
            on_line=self._on_serf_line,
            pid_file=self.paths.root / "serf.pid",
        )
        self.observe = Observability(
            config,
            children={"serf": self.serf, "dnsmasq": self.dnsmasq.child},
            rpc_up=lambda: self.rpc is not None,
            ambari=lambda: self.ambari.status if self.ambari is not None else None,
        )

    # --- set-up ---------------------------------------------------------------------------

    def _upstreams(self) -> tuple[Endpoint, ...]:
        if self.config.dns_upstream is not None:
            return self.config.dns_upstream
        # The resolvers this node started with: saved before we took resolv.conf over.
        original = read_text(self.paths.resolv_conf_orig) or read_text(self.resolv_conf) or ""
        found = resolv_conf_upstreams(original, self.config.dns_listen)
        if not found:
            log.warning(
                "no upstream resolver in %s: names outside %s will not resolve",
                self.resolv_conf,
                self.config.domain,
            )
        return found

    def _take_over_resolv_conf(self, path: Path) -> None:
        """Point this node's resolver at its own dnsmasq (CLOUDAGENT_RESOLV_CONF)."""
        current = read_text(path) or ""
        if MANAGED_RESOLV not in current and not self.paths.resolv_conf_orig.exists():
            write_atomic(self.paths.resolv_conf_orig, current)
        text = (
            f"{MANAGED_RESOLV}\nnameserver {self.config.dns_listen.host}\n"
            f"search {self.config.domain}\n"
        )
        if current != text:
            # In place: Docker bind-mounts /etc/resolv.conf, so a rename over it would fail.
            with path.open("w", encoding="utf-8") as handle:
                handle.write(text)
            log.info("%s now points at this node's dnsmasq (%s)", path, self.config.dns_listen)

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

    def _write_configs(self, srv_port: int) -> None:
        prepare_state_dir(self.paths, self.config.dnsmasq_user)
        self._ensure_rpc_token()
        self.services.ensure_file()
        if self.hosts.text is None:
            # No last good state yet: dnsmasq starts with an empty (but valid) hosts file.
            self.hosts.write(self.reconciler.step([], time.time()).hosts_text)
        else:
            log.info("serving the last hosts file until Serf answers (%s)", self.paths.hosts)
        write_atomic(
            self.paths.dnsmasq_conf,
            render_dnsmasq_conf(
                listen=self.config.dns_listen,
                hosts_file=self.paths.hosts,
                domain=self.config.domain,
                upstreams=self._upstreams(),
                user=self.config.dnsmasq_user,
                ttl=self.config.dns_ttl,
                authoritative=self.config.dns_authoritative,
                services_hosts=self.services.hosts.path,
                srv=Endpoint(self.services.responder.host, srv_port),
                reverse_zones=local_reverse_zones(self.config.serf_bind.host),
            ),
        )
        if self.config.resolv_conf is not None:
            self._take_over_resolv_conf(self.config.resolv_conf)
        write_atomic(
            self.paths.serf_config,
            json.dumps(serf_config(self.config, self.tags, self._keyring()), indent=2) + "\n",
            mode=0o600,
        )

    def _keyring(self) -> Path | None:
        path = keyring_path(self.config.state_dir)
        return path if seed_keyring(path, self.config.encrypt_key) else None

    # --- run ------------------------------------------------------------------------------

    async def publish(self, tags: dict[str, str]) -> None:
        """Gossip these tags (kept, and re-applied whenever serf restarts)."""
        self.tags.update(tags)
        if self.rpc is not None:
            try:
                await self.rpc.set_tags(tags)
            except SerfError as exc:
                log.warning("cannot publish tags yet (%s); will retry on reconnect", exc)

    def stop(self) -> None:
        """Ask the agent to stop (from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Ask for a cycle now (a Serf log line or event said the membership changed)."""
        self._wake.set()

    async def run(self) -> int:
        """Run until stopped; returns the exit status."""
        self._write_configs(await self.services.start())
        if self.observe.http is not None:
            self.observe.http.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.wake)
        log.info(
            "starting %s as %s (%s)",
            self.config.fqdn,
            self.config.role,
            self.config.summary(),
        )
        if self.config.encrypt_key is None:
            log.warning(
                "gossip is open: SERF_ENCRYPT_KEY is not set, so any host that reaches %s can "
                "join this cluster and claim names; give every node the same key "
                "(SERF_ENCRYPT_KEY_FILE, made with 'serf keygen')",
                self.config.serf_bind,
            )
        tasks = [
            asyncio.create_task(self.dnsmasq.run(), name="dnsmasq"),
            asyncio.create_task(self.serf.run(), name="serf"),
            asyncio.create_task(self._serf_sessions(), name="serf-rpc"),
            asyncio.create_task(self._reconcile_loop(), name="reconcile"),
            asyncio.create_task(answer_doctor_queries(self.config), name="doctor"),
        ]
        if self.ambari is not None:
            tasks.append(asyncio.create_task(self.ambari.run(), name="ambari"))
        if self.service is not None:
            tasks.append(asyncio.create_task(self.service.run(), name="service"))
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(tasks)
        return 0

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        if self.ambari is not None:
            await self.ambari.stop()
        log.info("stopping: leaving the Serf cluster")
        self.serf.stop_restarting()
        await self._leave()
        if not await self.serf.wait_exit(LEAVE_TIMEOUT):
            await self.serf.stop()
        if self.service is not None:  # after the leave: peers drop us from DNS first
            await self.service.stop()
        await self.dnsmasq.stop()
        await self.services.stop()
        if self.observe.http is not None:
            self.observe.http.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.rpc is not None:
            await self.rpc.close()
        log.info("stopped")

    async def _leave(self) -> None:
        # Leave first, so peers drop us from DNS at once instead of after failure detection.
        try:
            rpc = self.rpc or await SerfRPC.connect(self.config.serf_rpc, self.config.rpc_auth, 5.0)
            await rpc.leave()
        except SerfError as exc:
            log.warning("graceful leave failed (%s); peers will see this node as failed", exc)

    def _on_serf_line(self, line: str) -> None:
        if MEMBER_CHANGE.search(line):
            self._fast_path(line)
            self.wake()  # the full read that confirms (or corrects) the fast path
        log_serf_line(line)

    def _fast_path(self, line: str) -> None:
        """Apply the member a join/leave/failed line names at once, if pacing allows a write.

        Only DNS changes here: the line carries no tags or port, so the membership that
        /members, metrics, services and Ambari see waits for the full read that follows."""
        event = member_event(line)
        if event is None or self.rpc is None or self.pacer.wait() > 0:
            return
        cycle = self.reconciler.apply_event(event, time.time())
        if cycle is None:
            return
        for problem in cycle.new_problems:  # reported once: the full read will not repeat them
            log.warning("%s", problem)
        self.pacer.take()
        try:
            written = self.hosts.write(cycle.hosts_text)
            if cycle.failures_changed:
                write_atomic(self.paths.failures, json.dumps(self.reconciler.failed_since) + "\n")
            if cycle.arrivals_changed:
                write_atomic(self.paths.arrivals, self.reconciler.arrivals.to_json())
        except OSError as exc:  # the full cycle that follows reports it (/health)
            log.debug("fast path could not write: %s", exc)
            written = False
        if not written:
            self.pacer.give_back()
            return
        self.writes += 1
        self.dnsmasq.reload()
        log.info("%s (serf's %s line for %s)", cycle.summary(True), event.kind, event.name)

    async def _serf_sessions(self) -> None:
        """Keep one RPC connection to the local serf, with its wake-up subscriptions."""
        backoff = Backoff(initial=0.1, maximum=5.0)
        first_failure: float | None = None
        while not self._stop.is_set():
            try:
                rpc = await SerfRPC.connect(self.config.serf_rpc, self.config.rpc_auth, 5.0)
            except SerfError as exc:
                first_failure = first_failure or time.monotonic()
                level = logging.WARNING if time.monotonic() - first_failure > 10 else logging.DEBUG
                log.log(level, "serf RPC not reachable yet: %s", exc)
                await self._sleep(backoff.next())
                continue
            backoff.reset()
            first_failure = None
            helpers: list[asyncio.Task[None]] = []
            try:
                if len(self.tags) > 1:  # a restarted serf only knows the tags of its config
                    await rpc.set_tags(self.tags)
                # Early wake-ups come from serf's own log lines (_on_serf_line); the coalesced
                # event stream is the second, later trigger.
                events = await rpc.stream()
                self.rpc = rpc
                self._session_started = time.monotonic()
                self.wake()
                helpers = [
                    asyncio.create_task(self._wake_on(events)),
                    asyncio.create_task(self._ensure_joined(rpc)),
                ]
                await rpc.closed.wait()
                if not self._stop.is_set():
                    log.warning("lost the serf RPC connection; reconnecting")
            except SerfError as exc:
                log.warning("serf RPC session failed: %s", exc)
            finally:
                self.rpc = None
                for helper in helpers:
                    helper.cancel()
                await rpc.close()

    async def _wake_on(self, subscription: Subscription) -> None:
        with contextlib.suppress(SerfError):
            async for _ in subscription:
                self.wake()

    async def _ensure_joined(self, rpc: SerfRPC) -> None:
        """Join SERF_JOIN_IP until this node sees another member, with backoff."""
        if not self.config.join:
            return
        targets = [str(e) for e in self.config.join]
        backoff = Backoff(initial=0.5, maximum=30.0)
        while not self._stop.is_set():
            try:
                others = [
                    m
                    for m in await rpc.members()
                    if m.get("Name") != self.config.node_name and m.get("Status") == "alive"
                ]
                if others:
                    record_join_problem(self.config.state_dir, None)
                    return
                contacted = await rpc.join(targets)
                if contacted:
                    record_join_problem(self.config.state_dir, None)
                    log.info("joined the cluster through %s", ", ".join(targets))
                    return
            except SerfRPCError as exc:
                delay = backoff.next()
                problem = join_problem(exc.message)
                record_join_problem(self.config.state_dir, problem)
                log.warning(
                    "cannot join %s yet (%s); retrying in %.1fs", ", ".join(targets), problem, delay
                )
                await self._sleep(delay)
            except SerfError:
                return  # the session ends; a new one will try again

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _wait_wake(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))

    async def _reconcile_loop(self) -> None:
        deadline: float | None = None
        while not self._stop.is_set():
            timeout = self.resync
            if deadline is not None:
                timeout = min(timeout, deadline - time.time())
            await self._wait_wake(timeout)
            # Leading edge: an idle agent acts at once; a burst of changes is batched.
            await self._sleep(self.pacer.wait())
            self._wake.clear()
            rpc = self.rpc
            if rpc is None or self._stop.is_set():
                continue
            self.pacer.take()
            try:
                raw = await rpc.members()
            except SerfError as exc:
                log.debug("members failed: %s", exc)
                self.pacer.give_back()
                continue
            writes = self.writes
            try:
                deadline = self.cycle(raw)
            except Exception as exc:  # e.g. an unwritable state dir: /health reports it
                self.observe.cycle_failed(exc)
                log.error("cycle failed (%s); retrying at the next wake-up", exc)
                deadline = None
            if self.writes == writes:
                self.pacer.give_back()

    def _settling(self, raw: list[dict[str, Any]]) -> bool:
        alone = all(m.get("Name") == self.config.node_name for m in raw)
        return (
            alone
            and served_entries(self.hosts.text) > 1
            and time.monotonic() - self._session_started < SETTLE_HOLD
        )

    def cycle(self, raw: list[dict[str, Any]]) -> float | None:
        """One cycle from a members reply; returns when the next grace period runs out."""
        if self._settling(raw):
            log.debug("serf knows only this node yet; keeping the last hosts file")
            self.observe.held()
            return time.time() + 1.0
        started = time.perf_counter()
        cycle = self.reconciler.step(raw, time.time())
        self._publish(cycle, started)
        return cycle.next_deadline

    def _publish(self, cycle: Cycle, started: float) -> None:
        """Write what a cycle decided (begun at ``started``, perf_counter)."""
        for problem in cycle.new_problems:
            log.warning("%s", problem)
        if self.ambari is not None:
            self.ambari.update(cycle.membership, self.reconciler.failed_since)
        written = self.hosts.write(cycle.hosts_text)
        # Service names and SRV change in the same cycle (and reload) as the hosts they name.
        written = self.services.update(cycle.membership, cycle.view) or written
        if written:
            self.writes += 1
            self.dnsmasq.reload()
        self.topology.update(cycle.view, cycle.membership.members)
        self.observe.cycle_done(cycle, self.services.view, written, time.perf_counter() - started)
        if self.service is not None:  # after DNS: a service started now finds its peers
            self.service.update(cycle.membership)
        if cycle.failures_changed:
            write_atomic(self.paths.failures, json.dumps(self.reconciler.failed_since) + "\n")
        if cycle.arrivals_changed:
            write_atomic(self.paths.arrivals, self.reconciler.arrivals.to_json())
        log.log(logging.INFO if written else logging.DEBUG, "%s", cycle.summary(written))
