"""The agent's HTTP endpoint (``CLOUDAGENT_HTTP_LISTEN``): ``/health``, ``/metrics``,
``/members``. A stdlib threaded server: handlers only read frozen values the loop published."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from cloudagent.daemon.health import Health
from cloudagent.endpoint import Endpoint
from cloudagent.errors import CloudagentError

log = logging.getLogger(__name__)


class HttpEndpoint:
    """Serves the three documents from the callables it is given."""

    def __init__(
        self,
        listen: Endpoint,
        *,
        health: Callable[[], Health],
        registry: CollectorRegistry,
        members: Callable[[], dict[str, Any]],
    ) -> None:
        self.listen = listen
        self.health = health
        self.registry = registry
        self.members = members
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/health":
            verdict = self.health()
            body = json.dumps(verdict.document, indent=2).encode() + b"\n"
            return (200 if verdict.healthy else 503), "application/json", body
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/members":
            return 200, "application/json", json.dumps(self.members(), indent=2).encode() + b"\n"
        return 404, "text/plain", b"not found: try /health, /metrics or /members\n"

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port is a clear, fatal error."""
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    status, kind, body = endpoint._route(self.path.split("?", 1)[0])
                except Exception:
                    log.exception("HTTP %s failed", self.path)
                    status, kind, body = 500, "text/plain", b"internal error\n"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        try:
            self._server = ThreadingHTTPServer((self.listen.host, self.listen.port), Handler)
        except OSError as exc:
            raise CloudagentError(
                f"cannot serve HTTP on {self.listen}: {exc.strerror or exc}; "
                "set CLOUDAGENT_HTTP_LISTEN to a free ip:port, or 'off'"
            ) from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()
        log.info("serving /health, /metrics and /members on http://%s", self.listen)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
