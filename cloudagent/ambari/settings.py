"""Ambari settings from the environment (the server role's provisioning, every node's agent)."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cloudagent.errors import ConfigError
from cloudagent.secret import Secret, read_secret_file


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
    """A shipped blueprint by name, or a JSON file; Cloudbreak's wrapper is unwrapped."""
    path = Path(name_or_path)
    if path.suffix == ".json" or "/" in name_or_path:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
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
    if isinstance(doc, dict) and isinstance(doc.get("blueprint"), dict) and "Blueprints" not in doc:
        doc = doc["blueprint"]  # Cloudbreak's {"blueprint": {...}, "inputs": ...} wrapper
    if not isinstance(doc, dict):
        raise ValueError(f"{name_or_path}: a blueprint is a JSON object")
    name = str((doc.get("Blueprints") or {}).get("blueprint_name") or default_name)
    return name, doc


def _command(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    if name in env:
        return tuple(shlex.split(env[name]))
    program = default.split(maxsplit=1)[0]
    return tuple(default.split()) if shutil.which(program) else ()


def load_ambari(
    env: Mapping[str, str], read_file: Callable[[Path], str] = read_secret_file
) -> AmbariSettings:
    """Read the AMBARI_* / BLUEPRINT / CLUSTER_NAME variables; raise ConfigError listing all."""
    problems: list[str] = []

    def secret(var: str, default: str | None) -> Secret | None:
        if env.get(f"{var}_FILE"):
            try:
                return Secret(read_file(Path(env[f"{var}_FILE"])).strip())
            except OSError as exc:
                problems.append(f"{var}_FILE: {exc}")
                return None
        value = env.get(var) or default
        return None if value is None else Secret(value)

    enabled = (env.get("CLOUDAGENT_AMBARI") or "on").lower() not in ("off", "0", "false", "no")
    count_text = env.get("EXPECTED_HOST_COUNT") or "1"
    expected = int(count_text) if count_text.isdigit() and int(count_text) > 0 else 1
    if not (count_text.isdigit() and int(count_text) > 0):
        problems.append(f"EXPECTED_HOST_COUNT: {count_text!r} is not a positive whole number")
    default_bp = "single-node-hdfs-yarn" if expected == 1 else "multi-node-hdfs-yarn"
    blueprint_name, blueprint = default_bp, dict[str, Any]()
    try:
        blueprint_name, blueprint = load_blueprint(env.get("BLUEPRINT") or default_bp)
    except ValueError as exc:
        problems.append(f"BLUEPRINT: {exc}")
    poll_text = env.get("AMBARI_POLL") or "2"
    try:
        poll = float(poll_text)
    except ValueError:
        problems.append(f"AMBARI_POLL: {poll_text!r} is not a number of seconds")
        poll = 2.0
    settings = AmbariSettings(
        enabled=enabled,
        url=(env.get("AMBARI_URL") or "http://127.0.0.1:8080").rstrip("/"),
        user=env.get("AMBARI_USER") or "admin",
        password=secret("AMBARI_PASSWORD", "admin") or Secret("admin"),
        server_command=_command(env, "AMBARI_SERVER_COMMAND", "ambari-server start"),
        agent_command=_command(env, "AMBARI_AGENT_COMMAND", "ambari-agent restart"),
        agent_ini=Path(env.get("AMBARI_AGENT_INI") or "/etc/ambari-agent/conf/ambari-agent.ini"),
        expected_hosts=expected,
        blueprint_name=blueprint_name,
        blueprint=blueprint,
        cluster=env.get("CLUSTER_NAME") or "hadoop",
        default_password=secret("DEFAULT_PASSWORD", None),
        ambari_version=env.get("AMBARI_VERSION") or None,
        poll=poll,
    )
    if problems:
        raise ConfigError(problems)
    return settings
