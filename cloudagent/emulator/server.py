"""The emulator's HTTP surface: Ambari's REST API (port 8080) and the agent endpoints (8440).

Ambari's conventions: HTTP Basic auth with 403 on failure, ``X-Requested-By`` on every
non-GET request (400 without it), ``text/plain;charset=utf-8`` JSON pretty-printed the way
Jackson's DefaultPrettyPrinter writes it, ``{"status", "message"}`` error bodies, absolute
``href``s. Like Jetty, the server reads every request body (Content-Length or chunked)
before answering, even with an error, so a kept-alive connection stays in step; HEAD is
answered as GET without the body.
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
from urllib.parse import urlsplit

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator import cluster_routes, query, routes
from cloudagent.emulator.model import Ambari
from cloudagent.emulator.views import Listing

log = logging.getLogger(__name__)
_ = cluster_routes  # registers the cluster routes in routes.ROUTES
CONTENT_TYPE = "text/plain;charset=utf-8"
NO_CREDENTIALS = "Full authentication is required to access this resource"
BAD_CREDENTIALS = "Unable to sign in. Invalid username/password combination."
CSRF = "CSRF protection is turned on. X-Requested-By HTTP header is required."
MAX_BODY = 64 * 1024 * 1024


def _jackson(doc: Any, level: int) -> str:
    """Jackson 1.x DefaultPrettyPrinter: objects indented by two, arrays inline (``[ a, b ]``)."""
    if isinstance(doc, dict):
        if not doc:
            return "{ }"
        pad = "  " * (level + 1)
        inner = ",\n".join(
            f"{pad}{json.dumps(str(k), ensure_ascii=False)} : {_jackson(v, level + 1)}"
            for k, v in doc.items()
        )
        return "{\n" + inner + "\n" + "  " * level + "}"
    if isinstance(doc, list):
        if not doc:
            return "[ ]"
        return "[ " + ", ".join(_jackson(v, level) for v in doc) + " ]"
    return json.dumps(doc, ensure_ascii=False)


def render(doc: Any) -> bytes:
    """JSON as Ambari's Jackson pretty printer writes it.

    >>> print(render({"items": [{"a": 1}, {"b": []}], "c": {}}).decode())
    {
      "items" : [ {
        "a" : 1
      }, {
        "b" : [ ]
      } ],
      "c" : { }
    }
    """
    return _jackson(doc, 0).encode()


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    agent_routes: ClassVar[dict[str, re.Pattern[str]]] = {
        "register": re.compile(r"/agent/v1/register/(?P<host>[^/]+)"),
        "heartbeat": re.compile(r"/agent/v1/heartbeat/(?P<host>[^/]+)"),
    }

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET", head=True)

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing -------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        """The whole request body: Content-Length bytes, or every chunk of a chunked body."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise ValueError("request body too large")
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, doc: Any = None, text: str | None = None) -> None:
        body = text.encode() if text is not None else (b"" if doc is None else render(doc))
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        if status < 400 and self.path.startswith("/api/"):
            self.send_header("Set-Cookie", "AMBARISESSIONID=emulated;Path=/;HttpOnly")
            self.send_header("User", "admin")
        self.end_headers()
        if not self.head:
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"status": status, "message": message})

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

    def _dispatch(self, method: str, head: bool = False) -> None:
        self.head = head
        try:
            self.body = self._read_body().decode("utf-8", "replace")
        except (ValueError, OSError) as exc:
            self.close_connection = True
            self._error(400, f"Unreadable request body: {exc}")
            return
        url = urlsplit(self.path)
        self.base = f"http://{self.headers.get('Host') or 'localhost'}"
        if url.path.startswith("/agent/"):
            self._agent(method, url.path)
        elif url.path.startswith("/api/"):
            self._api(method, url.path, url.query)
        elif url.path == "/emulator/faults":
            self._faults(method)
        else:
            self._error(404, "The requested resource doesn't exist: no such endpoint")

    def _api(self, method: str, path: str, raw_query: str) -> None:
        # Spring's authentication filter runs first, then the CSRF filter, then Jersey.
        if not self._authorised():
            return
        if method not in ("GET", "HEAD", "OPTIONS") and "X-Requested-By" not in self.headers:
            self._error(400, CSRF)
            return
        faults = self.server.ambari.faults
        if faults.delay:
            time.sleep(faults.delay)
        if faults.http_500:
            faults.http_500 -= 1
            self._error(500, "Server Error")
            return
        try:
            handler, params = self._route(method, path)
            call = routes.Call(
                self.server.ambari, self.base, query.parse_query(raw_query), self.body
            )
            self._reply(handler(call, **params), call)
        except Rejection as rejection:
            self._error(rejection.status, rejection.message)
        except Exception:
            log.exception("emulator failure on %s %s", method, self.path)
            self._error(500, "Server Error")

    def _route(self, method: str, path: str) -> tuple[routes.Handler, dict[str, str]]:
        allowed = False
        for route_method, pattern, handler in routes.ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match.groupdict()
            allowed = allowed or match is not None
        if allowed:
            raise Rejection(405, f"Method {method} is not allowed on {path}")
        raise Rejection(404, "The requested resource doesn't exist: no such endpoint")

    def _resolve(self, href: str) -> query.Resource:
        """A sub-resource, read through the GET routes (for ``fields=sub/*`` expansion)."""
        path = urlsplit(href).path
        handler, params = self._route("GET", path)
        result = handler(routes.Call(self.server.ambari, self.base, query.Query(), ""), **params)
        if not isinstance(result, query.Resource):
            raise Rejection(400, f"{href} is not a single resource")
        return result

    def _reply(self, result: Any, call: routes.Call) -> None:
        if isinstance(result, query.Resource):
            self._send(200, query.instance(result, call.query, self._resolve))
        elif isinstance(result, Listing):
            doc = query.collection(
                result.href,
                result.items,
                call.query,
                self._resolve,
                kind=result.kind,
                keys=result.keys,
            )
            self._send(200, doc)
        else:
            self._send(result.status, result.doc, result.text)

    def _faults(self, method: str) -> None:
        faults = self.server.ambari.faults
        if method == "PUT":
            changes = json.loads(self.body or "{}")
            for key, value in changes.items():
                if not hasattr(faults, key):
                    self._error(400, f"unknown fault {key!r}; known: {sorted(faults.as_dict())}")
                    return
                setattr(faults, key, value)
        self._send(200, faults.as_dict())

    def _agent(self, method: str, path: str) -> None:
        kind = next((k for k, p in self.agent_routes.items() if p.fullmatch(path)), None)
        if method != "POST" or kind is None:
            self._error(404, "The requested resource doesn't exist: no such endpoint")
            return
        try:
            doc = json.loads(self.body or "{}")
        except ValueError:
            self._error(400, "agent message is not JSON")
            return
        host = path.rsplit("/", 1)[1]
        ambari = self.server.ambari
        if kind == "register":
            name = str(doc.get("hostname", host)).lower()
            reply = ambari.register(name, self.client_address[0], str(doc.get("agentVersion", "")))
        else:
            reply = ambari.heartbeat(host.lower(), int(doc.get("responseId", -1)))
        self._send(200, reply)


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
