"""Supervision of the daemon's long-lived asyncio tasks.

Policy (docs/reliability.md): an unexpected exception in a task is logged with its traceback
(once per distinct error; repeats get one line), counted in the health status, and the task is
restarted with backoff. A ChildFatalError (a program that can never run as configured) is
fatal: the agent stops with a non-zero status so the operator, or Docker's restart policy,
takes over. A task that returns while the agent is not stopping is treated as a failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from cloudagent.backoff import Backoff
from cloudagent.daemon.status import Status
from cloudagent.daemon.supervise import ChildFatalError

log = logging.getLogger(__name__)
STABLE_AFTER = 60.0  # a task that ran this long restarts with the initial delay again


class TaskSupervisor:
    """Starts tasks, restarts them when they fail, and reports through ``health``."""

    def __init__(
        self,
        health: Status,
        on_fatal: Callable[[str], None],
        *,
        backoff: Callable[[], Backoff] = lambda: Backoff(initial=1.0, maximum=30.0),
    ) -> None:
        self.health = health
        self.on_fatal = on_fatal
        self.make_backoff = backoff
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False

    def start(self, name: str, factory: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``factory()`` as task ``name`` under supervision."""
        task = asyncio.create_task(self._supervise(name, factory), name=name)
        self.tasks.append(task)
        return task

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        record = self.health.task(name)
        backoff = self.make_backoff()
        last_error: tuple[type[BaseException], str] | None = None
        while not self.stopping:
            record.state = "running"
            started = time.monotonic()
            try:
                await factory()
            except ChildFatalError as exc:
                record.state, record.last_error = "fatal", str(exc)
                record.failures += 1
                self.on_fatal(str(exc))
                return
            except Exception as exc:  # the point: nothing ends a task unseen
                record.failures += 1
                record.last_error = f"{type(exc).__name__}: {exc}"
                key = (type(exc), str(exc))
                if key != last_error:
                    log.exception("task %s failed; restarting it", name)
                else:
                    log.error("task %s failed again (%s); restarting it", name, record.last_error)
                last_error = key
            else:
                if self.stopping:
                    break
                record.failures += 1
                record.last_error = "ended unexpectedly"
                log.error("task %s ended unexpectedly; restarting it", name)
            if time.monotonic() - started > STABLE_AFTER:
                backoff.reset()
            record.state = "restarting"
            await asyncio.sleep(backoff.next())
        record.state = "stopped"

    async def cancel_all(self) -> None:
        """Stop every task; report (never hide) an error one of them ended with."""
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        for task, result in zip(
            self.tasks, await asyncio.gather(*self.tasks, return_exceptions=True), strict=True
        ):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("task %s ended with %r during shutdown", task.get_name(), result)
