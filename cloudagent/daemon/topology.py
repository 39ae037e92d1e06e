"""The topology table file in the state dir, kept from each cycle like the hosts file:
written atomically and only when its text changes; a bad rack tag is warned about once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from cloudagent.dns.view import DnsView
from cloudagent.files import DigestedFile
from cloudagent.members import Member
from cloudagent.topology import render_table, table_path, table_rows

log = logging.getLogger(__name__)


class TopologyFile:
    """The table for Hadoop's TableMapping and for ``cloudagent topology``."""

    def __init__(self, state_dir: Path, domain: str) -> None:
        self.file = DigestedFile(Path(table_path(state_dir)))
        self.domain = domain
        self._reported: frozenset[str] = frozenset()

    def update(self, view: DnsView, members: Iterable[Member]) -> bool:
        """Write the table for what DNS serves now; True when the file changed."""
        rows, problems = table_rows(view, members, self.domain)
        # Each bad rack tag once while it lasts, not once per cycle.
        for problem in sorted(set(problems) - self._reported):
            log.warning("%s", problem)
        self._reported = frozenset(problems)
        written = self.file.write(render_table(rows))
        if written:
            racks = len({rack for _, rack in rows})
            log.info("wrote the topology table (%d rows, %d racks)", len(rows), racks)
        return written
