"""A thin Ambari REST client: one method per endpoint; URL building, auth, the CSRF header,
timeouts, retries and error mapping each live in exactly one place (``_call``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

import requests

from cloudagent.backoff import Backoff
from cloudagent.errors import CloudagentError
from cloudagent.secret import Secret, mask

log = logging.getLogger(__name__)
_T = TypeVar("_T")
IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})
FAILED_STATES: Final = frozenset({"FAILED", "ABORTED", "TIMEDOUT", "HOLDING_FAILED",
                                  "HOLDING_TIMEDOUT", "SKIPPED_FAILED"})  # fmt: skip


class HTTPSession(Protocol):
    """What the client needs of ``requests.Session`` (tests hand in canned responses)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        data: Any = ...,
        params: Any = ...,
        timeout: Any = ...,
        auth: Any = ...,
        headers: Any = ...,
    ) -> requests.Response:
        """Send one HTTP request (the subset of requests.Session.request we use)."""
        ...


class AmbariError(CloudagentError):
    """Ambari refused a call, or could not be reached; carries Ambari's own message."""

    def __init__(self, message: str, status: int | None = None, ambari_message: str = "") -> None:
        self.status = status
        self.ambari_message = ambari_message
        super().__init__(message)


class AmbariUnavailable(AmbariError):
    """No answer (connection refused, timeout) or a server error after the retries."""


@dataclass(frozen=True)
class RequestStatus:
    """A request's state as ``GET .../requests/{id}`` reports it."""

    id: int
    status: str
    progress: float
    context: str
    pending_hosts: int
    task_count: int

    @property
    def finished(self) -> bool:
        """True when the request has ended, well or badly."""
        return self.status == "COMPLETED" or self.failed

    @property
    def failed(self) -> bool:
        """True when the request ended badly (FAILED, ABORTED, TIMEDOUT and the like)."""
        return self.status in FAILED_STATES


@dataclass(frozen=True)
class AmbariHost:
    """A host whose agent registered."""

    name: str
    state: str
    status: str
    cluster: str | None


class AmbariClient:
    """Talks to one Ambari server (or the emulator: the client cannot tell)."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str = "admin",
        password: Secret | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        session: HTTPSession | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.password = password or Secret("admin")
        self.timeout = timeout
        self.retries = retries
        self.session: HTTPSession = session if session is not None else requests.Session()
        self.sleep = sleep

    # --- plumbing -------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        *,
        parse: Callable[[Any], _T] = lambda doc: doc,
    ) -> _T:
        """Send one request and parse its JSON reply with ``parse``, behind one door: a reply
        that is not JSON or lacks a field ``parse`` needs is an AmbariError, never a crash."""
        url = self._url(path)
        response = self._send(method, url, body, params, expect)
        try:
            doc = response.json() if response.content.strip() else None
            return parse(doc)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise AmbariError(
                f"{method} {url}: unexpected reply from Ambari ({type(exc).__name__}: "
                f"{str(exc)[:200]}); is AMBARI_URL an Ambari server of a supported version?",
                status=response.status_code,
            ) from None

    def _send(
        self,
        method: str,
        url: str,
        body: Any,
        params: Mapping[str, str] | None,
        expect: tuple[int, ...],
    ) -> requests.Response:
        data = None if body is None else json.dumps(body)
        backoff = Backoff(initial=0.5, maximum=5.0)
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    params=params,
                    timeout=self.timeout,
                    auth=(self.user, self.password.reveal()),
                    headers={"X-Requested-By": "cloudagent", "Content-Type": "text/plain"},
                )
            except requests.RequestException as exc:
                failure: AmbariError = AmbariUnavailable(
                    f"{method} {url}: cannot reach Ambari ({mask(str(exc), [self.password])}); "
                    "is ambari-server running and is the URL right?"
                )
            else:
                if response.status_code in expect:
                    return response
                failure = self._failure(method, url, response)
                if response.status_code < 500:
                    raise failure
            if attempt < attempts:
                delay = backoff.next()
                log.debug("%s; retrying in %.1fs", failure, delay)
                self.sleep(delay)
        raise failure

    def _failure(self, method: str, url: str, response: requests.Response) -> AmbariError:
        try:
            doc = response.json()
            message = str(doc.get("message", "")) if isinstance(doc, dict) else ""
        except ValueError:
            message = response.text.strip()[:500]
        hint = {
            403: " (check AMBARI_USER and AMBARI_PASSWORD)",
            404: "",
        }.get(response.status_code, "")
        kind = AmbariUnavailable if response.status_code >= 500 else AmbariError
        return kind(
            f"{method} {url}: Ambari answered {response.status_code}: {message}{hint}",
            status=response.status_code,
            ambari_message=message,
        )

    def _get_or_none(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            return self._call("GET", path, params=params)
        except AmbariError as exc:
            if exc.status == 404:
                return None
            raise

    # --- endpoints ------------------------------------------------------------------------

    def ready(self) -> bool:
        """True when the API answers (``GET /clusters``)."""
        try:
            self._call("GET", "clusters")
        except AmbariUnavailable:
            return False
        return True

    def blueprint(self, name: str) -> dict[str, Any] | None:
        """A registered blueprint, or None."""
        doc: dict[str, Any] | None = self._get_or_none(f"blueprints/{name}")
        return doc

    def post_blueprint(
        self, name: str, doc: Mapping[str, Any], validate_topology: bool = True
    ) -> None:
        """``POST /blueprints/{name}``; raises AmbariError (409 when the name is taken)."""
        params = None if validate_topology else {"validate_topology": "false"}
        self._call("POST", f"blueprints/{name}", dict(doc), params=params, expect=(201,))

    def create_cluster(self, name: str, template: Mapping[str, Any]) -> int:
        """``POST /clusters/{name}`` from a template; returns the request id."""
        return self._call(
            "POST", f"clusters/{name}", dict(template), expect=(202,), parse=_request_id
        )

    def cluster(self, name: str) -> dict[str, Any] | None:
        """The cluster resource, or None when there is no such cluster."""
        doc: dict[str, Any] | None = self._get_or_none(f"clusters/{name}")
        return doc

    def add_hosts(
        self,
        cluster: str,
        blueprint: str,
        hosts: Mapping[str, str],
        racks: Mapping[str, str] | None = None,
    ) -> int:
        """Scale up: ``POST /clusters/{c}/hosts`` with host -> blueprint host group, and each
        host's ``rack_info`` when ``racks`` names it."""
        racks = racks or {}
        body = [
            {"blueprint": blueprint, "host_group": group, "host_name": host}
            | ({"rack_info": racks[host]} if host in racks else {})
            for host, group in sorted(hosts.items())
        ]
        return self._call(
            "POST", f"clusters/{cluster}/hosts", body, expect=(202,), parse=_request_id
        )

    def cluster_hosts(self, cluster: str) -> list[str]:
        """Names of the hosts in a cluster."""
        return self._call(
            "GET",
            f"clusters/{cluster}/hosts",
            parse=lambda doc: [str(item["Hosts"]["host_name"]) for item in doc.get("items", [])],
        )

    def request(self, cluster: str, request_id: int) -> RequestStatus:
        """A request's status and progress."""
        return self._call("GET", f"clusters/{cluster}/requests/{request_id}", parse=_request_status)

    def request_ids(self, cluster: str) -> list[int]:
        """Ids of a cluster's requests, oldest first."""
        return self._call(
            "GET",
            f"clusters/{cluster}/requests",
            parse=lambda doc: sorted(int(item["Requests"]["id"]) for item in doc.get("items", [])),
        )

    def hosts(self) -> list[AmbariHost]:
        """Every host whose agent registered."""
        return self._call("GET", "hosts", params={"fields": "Hosts/*"}, parse=_hosts)


def _request_id(doc: Any) -> int:
    return int(doc["Requests"]["id"])


def _request_status(doc: Any) -> RequestStatus:
    r = doc["Requests"]
    return RequestStatus(
        id=int(r["id"]),
        status=str(r["request_status"]),
        progress=float(r.get("progress_percent") or 0.0),
        context=str(r.get("request_context") or ""),
        pending_hosts=int(r.get("pending_host_request_count") or 0),
        task_count=int(r.get("task_count") or 0),
    )


def _hosts(doc: Any) -> list[AmbariHost]:
    return [
        AmbariHost(
            name=str(h["Hosts"]["host_name"]),
            state=str(h["Hosts"].get("host_state", "UNKNOWN")),
            status=str(h["Hosts"].get("host_status", "UNKNOWN")),
            cluster=h["Hosts"].get("cluster_name"),
        )
        for h in doc.get("items", [])
    ]
