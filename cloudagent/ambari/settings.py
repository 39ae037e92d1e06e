"""Ambari settings from the environment (the server role's provisioning, every node's agent)."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from cloudagent.ambari.blueprint import unwrap_cloudbreak
from cloudagent.environ import Collector
from cloudagent.secret import Secret, read_secret_file

DEFAULT_CLUSTER: Final = "hadoop"
MAX_HOSTS: Final = 10_000  # a bound for typos, well above any cluster one Ambari runs
MAX_POLL: Final = 3600.0


@dataclass(frozen=True)
class AmbariSettings:
    """Everything about Ambari a node needs; secrets wrapped."""

    enabled: bool
    url: str
    user: str
    password: Secret
    server_command: tuple[str, ...]
    agent_command: tuple[str, ...]
    agent_ini: Path
    expected_hosts: int
    blueprint_name: str
    blueprint: Mapping[str, Any]
    cluster: str
    default_password: Secret | None
    ambari_version: str | None
    poll: float = 2.0


def shipped_blueprints() -> list[str]:
    """Names of the blueprints that ship with cloudagent."""
    folder = resources.files("cloudagent").joinpath("blueprints")
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_blueprint(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """A shipped blueprint by name, or a JSON file; Cloudbreak's wrapper is unwrapped.

    The name is the blueprint's own ``Blueprints/blueprint_name``, else the file's stem.
    Raises ValueError with one line saying what is wrong.
    """
    path = Path(name_or_path)
    if path.suffix == ".json" or "/" in name_or_path:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"cannot read {path}: not UTF-8 text") from None
        default_name = path.name.removesuffix(".json")
    else:
        if name_or_path not in shipped_blueprints():
            raise ValueError(
                f"{name_or_path!r} is neither a file nor a shipped blueprint "
                f"({', '.join(shipped_blueprints())})"
            )
        text = (
            resources.files("cloudagent").joinpath("blueprints", f"{name_or_path}.json").read_text()
        )
        default_name = name_or_path
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name_or_path}: not valid JSON ({exc})") from None
    doc = unwrap_cloudbreak(doc) or doc
    if not isinstance(doc, dict):
        raise ValueError(f"{name_or_path}: a blueprint is a JSON object")
    name = str((doc.get("Blueprints") or {}).get("blueprint_name") or default_name)
    return name, dict(doc)


def _command(c: Collector, name: str, default: str) -> tuple[str, ...]:
    """The command in ``name`` (shell words); unset: ``default`` when its program is
    installed, else none (the process is not managed)."""
    if name in c.environ:
        try:
            return tuple(shlex.split(c.environ[name]))
        except ValueError as exc:
            c.problem(f"{name}: {exc} (it is split as shell words)")
            return ()
    program = default.split(maxsplit=1)[0]
    return tuple(default.split()) if shutil.which(program) else ()


def load_ambari(
    env: Mapping[str, str], read_file: Callable[[Path], str] = read_secret_file
) -> AmbariSettings:
    """Read the AMBARI_* / BLUEPRINT / CLUSTER_NAME variables; raise ConfigError listing all."""
    c = Collector(env, read_file)
    settings = collect_ambari(c)
    c.finish()
    return settings


def collect_ambari(c: Collector) -> AmbariSettings:
    """Read the Ambari variables through ``c``; the problems stay in ``c``."""
    expected = c.count("EXPECTED_HOST_COUNT", 1, low=1, high=MAX_HOSTS)
    default_bp = "single-node-hdfs-yarn" if expected == 1 else "multi-node-hdfs-yarn"
    blueprint_name, blueprint = default_bp, dict[str, Any]()
    try:
        blueprint_name, blueprint = load_blueprint(c.get("BLUEPRINT") or default_bp)
    except ValueError as exc:
        c.problem(f"BLUEPRINT: {exc}")
    return AmbariSettings(
        enabled=c.flag("CLOUDAGENT_AMBARI", default=True),
        url=(c.get("AMBARI_URL") or "http://127.0.0.1:8080").rstrip("/"),
        user=c.get("AMBARI_USER") or "admin",
        password=c.secret("AMBARI_PASSWORD") or Secret("admin"),
        server_command=_command(c, "AMBARI_SERVER_COMMAND", "ambari-server start"),
        agent_command=_command(c, "AMBARI_AGENT_COMMAND", "ambari-agent restart"),
        agent_ini=Path(c.get("AMBARI_AGENT_INI") or "/etc/ambari-agent/conf/ambari-agent.ini"),
        expected_hosts=expected,
        blueprint_name=blueprint_name,
        blueprint=blueprint,
        cluster=c.get("CLUSTER_NAME") or DEFAULT_CLUSTER,
        default_password=c.secret("DEFAULT_PASSWORD"),
        ambari_version=c.get("AMBARI_VERSION"),
        poll=c.number("AMBARI_POLL", 2.0, low=0, low_open=True, high=MAX_POLL, unit="s"),
    )
