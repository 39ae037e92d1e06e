"""The REST client on canned responses: headers, auth, error mapping, retries."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from cloudagent.ambari.client import AmbariClient, AmbariError, AmbariUnavailable
from cloudagent.secret import Secret


class Canned:
    """A stand-in for requests.Session that replays responses and records calls."""

    def __init__(self, *answers: tuple[int, Any] | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if body is not None else b""
        return response


def client(session: Canned, retries: int = 2) -> AmbariClient:
    return AmbariClient(
        "http://127.0.0.1:8080/",
        password=Secret("s3cret"),
        retries=retries,
        session=session,
        sleep=lambda _s: None,
    )


def test_every_call_carries_auth_csrf_header_and_timeout() -> None:
    session = Canned((202, {"Requests": {"id": 7, "status": "Accepted"}}))
    assert client(session).create_cluster("c1", {"blueprint": "b"}) == 7
    call = session.calls[0]
    assert call["method"] == "POST"
    assert call["url"] == "http://127.0.0.1:8080/api/v1/clusters/c1"
    assert call["auth"] == ("admin", "s3cret")
    assert call["headers"]["X-Requested-By"]
    assert call["timeout"] == 10.0
    assert json.loads(call["data"]) == {"blueprint": "b"}


def test_ambari_message_surfaces_and_403_hints_at_credentials() -> None:
    session = Canned(
        (403, {"status": 403, "message": "Full authentication is required to access this resource"})
    )
    with pytest.raises(AmbariError) as caught:
        client(session).hosts()
    assert caught.value.status == 403
    assert "Full authentication is required" in str(caught.value)
    assert "AMBARI_PASSWORD" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert len(session.calls) == 1  # a 4xx is never retried


def test_5xx_is_retried_on_idempotent_calls_only() -> None:
    get = Canned((500, {"status": 500, "message": "Server Error"}), (200, {"items": []}))
    assert client(get).hosts() == []
    assert len(get.calls) == 2
    post = Canned((500, {"status": 500, "message": "Server Error"}))
    with pytest.raises(AmbariUnavailable, match="Server Error"):
        client(post).create_cluster("c1", {})
    assert len(post.calls) == 1


def test_connection_errors_after_retries() -> None:
    session = Canned(*[requests.ConnectionError("refused s3cret")] * 3)
    with pytest.raises(AmbariUnavailable) as caught:
        client(session).request("c1", 1)
    assert len(session.calls) == 3
    assert "cannot reach Ambari" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_404_means_absent_for_lookups() -> None:
    session = Canned((404, {"status": 404, "message": "Cluster not found"}))
    assert client(session).cluster("c1") is None


def test_request_status_parsing() -> None:
    session = Canned(
        (
            200,
            {
                "Requests": {
                    "id": 3,
                    "request_status": "FAILED",
                    "progress_percent": 61.5,
                    "request_context": "Logical Request: Provision Cluster 'c1'",
                    "pending_host_request_count": 0,
                    "task_count": 38,
                }
            },
        )
    )
    status = client(session).request("c1", 3)
    assert (status.status, status.progress, status.failed, status.finished) == (
        "FAILED",
        61.5,
        True,
        True,
    )


class Raw(Canned):
    """Replies with raw bytes (not JSON) to exercise the parsing behind the door."""

    def __init__(self, status: int, content: bytes) -> None:
        super().__init__()
        self.status, self.content = status, content

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        response = requests.Response()
        response.status_code = self.status
        response._content = self.content
        return response


@pytest.mark.parametrize(
    ("content", "call"),
    [
        (b"<html>not json", lambda c: c.hosts()),
        (b'{"Requests": {}}', lambda c: c.request("c1", 3)),
        (b'{"items": [{"Hosts": {}}]}', lambda c: c.cluster_hosts("c1")),
        (b"[1, 2]", lambda c: c.request_ids("c1")),
    ],
)
def test_a_malformed_reply_is_an_ambari_error_not_a_crash(content: bytes, call: Any) -> None:
    with pytest.raises(AmbariError, match="unexpected reply from Ambari"):
        call(client(Raw(200, content)))


def test_a_malformed_post_reply_is_an_ambari_error() -> None:
    with pytest.raises(AmbariError, match="unexpected reply from Ambari"):
        client(Raw(202, b"{")).create_cluster("c1", {"blueprint": "b"})
