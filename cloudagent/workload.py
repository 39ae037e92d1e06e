"""The node's own service (``CLOUDAGENT_SERVICE_COMMAND``) and its ZooKeeper identity, from env.

Any long-running program can be the service: the agent starts it, restarts it with backoff
when it exits, and stops it after leaving the Serf cluster. ``CLOUDAGENT_ZK_ID`` makes the node
a ZooKeeper server: it gossips ``zk=N`` and the agent keeps ``zoo.cfg`` from the membership.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cloudagent.environ import Collector
from cloudagent.zookeeper import parse_id

# The variables that carry secrets (and the files that hold them): a child never sees them.
SECRET_VARIABLES: Final = frozenset(
    {"SERF_ENCRYPT_KEY", "SERF_RPC_AUTH", "AMBARI_PASSWORD", "DEFAULT_PASSWORD"}
)
_SECRET_LOOKING = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class ServiceSettings:
    """The service command, and this node's ZooKeeper id and expected ensemble size."""

    command: tuple[str, ...] = ()
    zk_id: int | None = None
    zk_ensemble: int | None = None

    @property
    def active(self) -> bool:
        """True when there is anything for the agent to do: a command or a ZooKeeper id."""
        return bool(self.command) or self.zk_id is not None

    def describe(self) -> list[tuple[str, str]]:
        """Name/value rows for ``validate-config``."""
        rows = [("service cmd", shlex.join(self.command) or "(none)")]
        if self.zk_id is not None:
            size = self.zk_ensemble or "any"
            rows.append(("zookeeper", f"id {self.zk_id}, starts with {size} servers"))
        return rows


def collect_service(c: Collector) -> ServiceSettings:
    """Read CLOUDAGENT_SERVICE_COMMAND, CLOUDAGENT_ZK_ID and CLOUDAGENT_ZK_ENSEMBLE through
    ``c``; the problems stay in ``c``."""
    command: tuple[str, ...] = ()
    raw_command = c.get("CLOUDAGENT_SERVICE_COMMAND")
    if raw_command:
        try:
            command = tuple(shlex.split(raw_command))
        except ValueError as exc:  # an unclosed quote: say so rather than run half a command
            c.problem(f"CLOUDAGENT_SERVICE_COMMAND: cannot split it into words ({exc})")
    zk_id: int | None = c.parse("CLOUDAGENT_ZK_ID", None, parse_id)
    ensemble: int | None = c.parse("CLOUDAGENT_ZK_ENSEMBLE", None, parse_id)
    if c.get("CLOUDAGENT_ZK_ENSEMBLE") and not c.get("CLOUDAGENT_ZK_ID"):
        c.problem("CLOUDAGENT_ZK_ENSEMBLE is set but CLOUDAGENT_ZK_ID is not; set both")
    return ServiceSettings(command=command, zk_id=zk_id, zk_ensemble=ensemble)


def load_service(env: Mapping[str, str]) -> ServiceSettings:
    """The service settings from ``env``; raise ConfigError listing every problem."""
    c = Collector(env)
    settings = collect_service(c)
    c.finish()
    return settings


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a service gets: ours without secrets (named ones, their ``_FILE``
    paths, and anything named like a password, token or key).

    >>> sorted(child_environment({"PATH": "/bin", "SERF_RPC_AUTH": "x", "MY_TOKEN": "y",
    ...                           "AMBARI_PASSWORD_FILE": "/p", "JVMFLAGS": "-Xmx1g"}))
    ['JVMFLAGS', 'PATH']
    """
    return {
        name: value
        for name, value in env.items()
        if name.removesuffix("_FILE") not in SECRET_VARIABLES
        and not _SECRET_LOOKING.search(name.removesuffix("_FILE"))
    }
