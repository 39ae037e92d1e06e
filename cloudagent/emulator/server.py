"""The emulator's HTTP surface: Ambari's REST API (port 8080) and the agent endpoints (8440).

Ambari's conventions (reference §0): HTTP Basic auth with 403 on failure, ``X-Requested-By``
on every non-GET request (400 without it), ``text/plain;charset=utf-8`` JSON pretty-printed
the way Jackson prints it, ``{"status", "message"}`` error bodies, absolute ``href``s.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator import views
from cloudagent.emulator.model import Ambari

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain;charset=utf-8"
NO_CREDENTIALS = "Full authentication is required to access this resource"
BAD_CREDENTIALS = "Unable to sign in. Invalid username/password combination."
CSRF = "CSRF protection is turned on. X-Requested-By HTTP header is required."


def render(doc: Any) -> bytes:
    """JSON as Ambari's Jackson pretty printer writes it (``"key" : value``, 2 spaces)."""
    return json.dumps(doc, indent=2, separators=(",", " : ")).encode()


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    routes: ClassVar[list[tuple[str, re.Pattern[str], str]]] = [
        ("GET", re.compile(r"/api/v1/blueprints/?"), "blueprints"),
        ("GET", re.compile(r"/api/v1/blueprints/(?P<name>[^/]+)"), "blueprint"),
        ("POST", re.compile(r"/api/v1/blueprints/(?P<name>[^/]+)"), "post_blueprint"),
        ("DELETE", re.compile(r"/api/v1/blueprints/(?P<name>[^/]+)"), "delete_blueprint"),
        ("GET", re.compile(r"/api/v1/clusters/?"), "clusters"),
        ("GET", re.compile(r"/api/v1/clusters/(?P<cluster>[^/]+)"), "cluster"),
        ("POST", re.compile(r"/api/v1/clusters/(?P<cluster>[^/]+)"), "post_cluster"),
        ("GET", re.compile(r"/api/v1/clusters/(?P<cluster>[^/]+)/hosts/?"), "cluster_hosts"),
        ("POST", re.compile(r"/api/v1/clusters/(?P<cluster>[^/]+)/hosts/?"), "post_hosts"),
        ("GET", re.compile(r"/api/v1/clusters/(?P<cluster>[^/]+)/requests/?"), "requests"),
        ("GET", re.compile(r"/api/v1/clusters/(?P<cluster>[^/]+)/requests/(?P<id>\d+)"), "request"),
        ("GET", re.compile(r"/api/v1/hosts/?"), "hosts"),
        ("GET", re.compile(r"/api/v1/hosts/(?P<host>[^/]+)"), "host"),
        ("GET", re.compile(r"/emulator/faults"), "faults"),
        ("PUT", re.compile(r"/emulator/faults"), "put_faults"),
        ("POST", re.compile(r"/agent/v1/register/(?P<host>[^/]+)"), "register"),
        ("POST", re.compile(r"/agent/v1/heartbeat/(?P<host>[^/]+)"), "heartbeat"),
    ]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing -------------------------------------------------------------------------

    def _send(self, status: int, doc: Any = None) -> None:
        body = b"" if doc is None else render(doc)
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        if status < 400 and self.path.startswith("/api/"):
            self.send_header("Set-Cookie", "AMBARISESSIONID=emulated;Path=/;HttpOnly")
            self.send_header("User", "admin")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"status": status, "message": message})

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8", "replace") if length else ""

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            self._error(403, NO_CREDENTIALS)
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        if user != "admin" or password != self.server.ambari.password:
            self._error(403, BAD_CREDENTIALS)
            return False
        return True

    def _route(self, method: str, path: str) -> tuple[str | None, re.Match[str] | None]:
        for route_method, pattern, name in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return name, match
        return None, None

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.base = f"http://{self.headers.get('Host') or 'localhost'}"
        handler, match = self._route(method, url.path)
        if handler is None or match is None:
            self._error(404, "The requested resource doesn't exist: no such endpoint")
            return
        if not url.path.startswith("/agent/"):
            if not self._authorised():
                return
            if method not in ("GET", "HEAD", "OPTIONS") and "X-Requested-By" not in self.headers:
                self._error(400, CSRF)
                return
            faults = self.server.ambari.faults
            if faults.delay:
                time.sleep(faults.delay)
            if faults.http_500 and url.path.startswith("/api/"):
                faults.http_500 -= 1
                self._error(500, "Server Error")
                return
        try:
            getattr(self, f"route_{handler}")(**match.groupdict())
        except Rejection as rejection:
            self._error(rejection.status, rejection.message)
        except Exception:
            log.exception("emulator failure on %s %s", method, self.path)
            self._error(500, "Server Error")

    # --- API ------------------------------------------------------------------------------

    def route_blueprints(self) -> None:
        self._send(200, views.blueprints(self.server.ambari, self.base, self.query))

    def route_blueprint(self, name: str) -> None:
        self._send(200, views.blueprint(self.server.ambari, self.base, name))

    def route_post_blueprint(self, name: str) -> None:
        validate = self.query.get("validate_topology", [""])[0].lower() != "false"
        self.server.ambari.add_blueprint(name, self._body(), validate)
        self._send(201)

    def route_delete_blueprint(self, name: str) -> None:
        self.server.ambari.delete_blueprint(name)
        self._send(200)

    def route_clusters(self) -> None:
        self._send(200, views.clusters(self.server.ambari, self.base))

    def route_cluster(self, cluster: str) -> None:
        self._send(200, views.cluster(self.server.ambari, self.base, cluster))

    def route_post_cluster(self, cluster: str) -> None:
        request = self.server.ambari.create_cluster(cluster, self._body())
        self._send(202, views.accepted(self.server.ambari, self.base, request))

    def route_cluster_hosts(self, cluster: str) -> None:
        self._send(200, views.hosts(self.server.ambari, self.base, self.query, cluster))

    def route_post_hosts(self, cluster: str) -> None:
        request = self.server.ambari.scale_cluster(cluster, self._body())
        self._send(202, views.accepted(self.server.ambari, self.base, request))

    def route_requests(self, cluster: str) -> None:
        self._send(200, views.requests(self.server.ambari, self.base, cluster))

    def route_request(self, cluster: str, id: str) -> None:
        self._send(200, views.request(self.server.ambari, self.base, cluster, int(id)))

    def route_hosts(self) -> None:
        self._send(200, views.hosts(self.server.ambari, self.base, self.query))

    def route_host(self, host: str) -> None:
        self._send(200, views.host(self.server.ambari, self.base, host))

    def route_faults(self) -> None:
        self._send(200, self.server.ambari.faults.as_dict())

    def route_put_faults(self) -> None:
        changes = json.loads(self._body() or "{}")
        faults = self.server.ambari.faults
        for key, value in changes.items():
            if not hasattr(faults, key):
                raise Rejection(400, f"unknown fault {key!r}; known: {sorted(faults.as_dict())}")
            setattr(faults, key, value)
        self._send(200, faults.as_dict())

    # --- agents ---------------------------------------------------------------------------

    def route_register(self, host: str) -> None:
        doc = json.loads(self._body() or "{}")
        name = str(doc.get("hostname", host)).lower()
        reply = self.server.ambari.register(
            name, self.client_address[0], str(doc.get("agentVersion", ""))
        )
        self._send(200, reply)

    def route_heartbeat(self, host: str) -> None:
        doc = json.loads(self._body() or "{}")
        self._send(200, self.server.ambari.heartbeat(host.lower(), int(doc.get("responseId", -1))))


class EmulatorServer(ThreadingHTTPServer):
    """One listening socket of the emulator; API and agent ports share the model."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], ambari: Ambari) -> None:
        self.ambari = ambari
        super().__init__(address, _Handler)

    def start(self) -> threading.Thread:
        """Serve in a background thread (for tests and the in-process demo)."""
        thread = threading.Thread(target=self.serve_forever, name="ambari-emulator", daemon=True)
        thread.start()
        return thread
