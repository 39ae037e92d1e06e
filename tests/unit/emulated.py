"""An in-process emulator on loopback with a hand-driven clock, for deterministic tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from cloudagent.emulator.model import Ambari
from cloudagent.emulator.server import EmulatorServer

BLUEPRINTS = Path(__file__).resolve().parents[2] / "cloudagent" / "blueprints"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def running(**kwargs: Any) -> Iterator[tuple[Ambari, str, Clock]]:
    clock = Clock()
    ambari = Ambari(clock=clock, **kwargs)
    server = EmulatorServer(("127.0.0.1", 0), ambari)
    server.start()
    try:
        yield ambari, f"http://127.0.0.1:{server.server_address[1]}", clock
    finally:
        server.shutdown()
        server.server_close()


def shipped(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((BLUEPRINTS / f"{name}.json").read_text())
    return doc


def api(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    auth: tuple[str, str] | None = ("admin", "admin"),
    csrf: bool = True,
    params: dict[str, str] | None = None,
) -> requests.Response:
    headers = {"X-Requested-By": "test"} if csrf else {}
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    return requests.request(
        method,
        f"{base}/api/v1/{path}",
        data=data,
        auth=auth,
        headers=headers,
        params=params,
        timeout=5,
    )
