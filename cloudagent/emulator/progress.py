"""Tasks of a logical request over time, and Ambari's status and progress formulas.

Pure: a task's state is a function of the clock, so no background thread drives it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

DONE: Final = frozenset({"COMPLETED", "FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED"})


@dataclass(frozen=True)
class Task:
    """One command on one host: queued at ``start``, running from ``run``, done at ``end``."""

    id: int
    host: str
    component: str
    command: str  # INSTALL or START
    start: float
    run: float
    end: float
    fails: bool = False
    stage: int = 0
    custom: str | None = None  # custom_command_name of a CUSTOM_COMMAND task (RESTART, ...)

    def status(self, now: float) -> str:
        """The task's own status, before any abort caused by another task's failure."""
        if now < self.start:
            return "PENDING"
        if now < self.run:
            return "QUEUED"
        if now < self.end:
            return "IN_PROGRESS"
        return "FAILED" if self.fails else "COMPLETED"


def schedule(  # noqa: PLR0917 - a plain function of the task's parameters
    first_id: int,
    host: str,
    components: Iterable[str],
    clients: set[str],
    now: float,
    duration: float,
    install_only: bool = False,
    fail: str | None = None,
) -> list[Task]:
    """An INSTALL stage for every component, then a START stage for the non-clients."""
    tasks: list[Task] = []
    stages = [("INSTALL", sorted(components))]
    if not install_only:
        stages.append(("START", sorted(c for c in components if c not in clients)))
    for index, (command, names) in enumerate(stages):
        begin = now + index * duration
        for name in names:
            tasks.append(
                Task(
                    id=first_id + len(tasks),
                    host=host,
                    component=name,
                    command=command,
                    start=begin,
                    run=begin + 0.1 * duration,
                    end=begin + duration,
                    fails=name == fail,
                    stage=index,
                )
            )
    return tasks


@dataclass(frozen=True)
class Summary:
    """What ``GET .../requests/{id}`` reports."""

    status: str
    progress: float
    counts: dict[str, int]
    total: int


def failed_at(tasks: Iterable[Task]) -> float | None:
    """When the first failing task of a request fails, if any does."""
    return min((t.end for t in tasks if t.fails), default=None)


def task_status(task: Task, now: float, failure: float | None) -> str:
    """A task's status within its request.

    When a task fails, Ambari's ActionScheduler aborts the request: every task still
    PENDING, QUEUED or IN_PROGRESS, in that stage and in later ones, becomes ABORTED
    (ActionScheduler.processHostRole -> ActionDBAccessorImpl.abortOperation, apache/ambari).
    """
    if failure is not None and now >= failure and task.end > failure:
        return "ABORTED"
    return task.status(now)


def summarise(tasks: Iterable[Task], now: float, pending_hosts: int) -> Summary:
    """Ambari's CalculatedStatus over the tasks, as ambari-server's CalculatedStatus computes it.

    >>> t = [Task(1, "h", "NAMENODE", "INSTALL", 0, 1, 10),
    ...      Task(2, "h", "DATANODE", "INSTALL", 0, 1, 5)]
    >>> s = summarise(t, now=6, pending_hosts=0)
    >>> s.status, round(s.progress, 2)
    ('IN_PROGRESS', 67.5)
    """
    tasks = list(tasks)
    failure = failed_at(tasks)
    statuses = [task_status(t, now, failure) for t in tasks]
    counts = Counter(statuses)
    total = len(statuses)
    if total == 0:
        return Summary(
            "PENDING" if pending_hosts else "COMPLETED",
            0.0 if pending_hosts else 100.0,
            dict(counts),
            0,
        )
    completed = sum(counts[s] for s in DONE)
    queued = counts["QUEUED"]
    pending = counts["PENDING"]
    in_progress = total - completed - queued - pending
    progress = 100.0 * (0.09 * queued + 0.35 * in_progress + completed) / total
    if counts["FAILED"]:
        status = "FAILED"  # FAILED outranks ABORTED (CalculatedStatus.calculateSummaryStatus)
    elif completed == total and not pending_hosts:
        status = "COMPLETED"
    elif pending == total:
        status = "PENDING"
    else:
        status = "IN_PROGRESS"
    return Summary(status, progress, dict(counts), total)
