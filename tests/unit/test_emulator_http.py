"""The emulator's HTTP behaviour as Jetty's: one kept-alive connection survives error replies,
chunked bodies are read, HEAD answers like GET without a body, /api/v1/check says RUNNING."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

from tests.unit.emulated import api, running, shipped

ADMIN = "Basic " + base64.b64encode(b"admin:admin").decode()
WRONG = "Basic " + base64.b64encode(b"admin:wrong").decode()


def _connection(base: str) -> http.client.HTTPConnection:
    url = urlsplit(base)
    return http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)


def _call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    auth: str = ADMIN,
    **headers: str,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    all_headers = {"Authorization": auth, **headers}
    chunked = body is not None and not isinstance(body, bytes)
    conn.request(method, path, body=body, headers=all_headers, encode_chunked=chunked)
    response = conn.getresponse()
    return response.status, response.read(), response


def test_error_replies_keep_the_connection_in_step() -> None:
    """403, 400 (CSRF), 404 and an injected 500, each with a body, then a good call."""
    with running() as (ambari, base, _clock):
        conn = _connection(base)
        body = b'{"Blueprints": {"stack_name": "HDP"}}' * 50
        assert (
            _call(conn, "POST", "/api/v1/blueprints/x", body, WRONG, **{"X-Requested-By": "t"})[0]
            == 403
        )
        assert _call(conn, "GET", "/api/v1/clusters")[0] == 200
        assert _call(conn, "POST", "/api/v1/blueprints/x", body)[0] == 400  # no X-Requested-By
        assert _call(conn, "GET", "/api/v1/clusters")[0] == 200
        assert _call(conn, "PUT", "/api/v1/nothing/here", body, **{"X-Requested-By": "t"})[0] == 404
        ambari.faults.http_500 = 1
        assert (
            _call(conn, "POST", "/api/v1/blueprints/x", body, **{"X-Requested-By": "t"})[0] == 500
        )
        status, text, _ = _call(conn, "GET", "/api/v1/clusters")
        assert status == 200
        assert json.loads(text)["items"] == []
        conn.close()


def test_chunked_body_is_read() -> None:
    with running() as (_, base, _clock):
        conn = _connection(base)
        doc = json.dumps(shipped("single-node-hdfs-yarn")).encode()
        parts = iter([doc[:100], doc[100:]])
        status, text, _ = _call(
            conn, "POST", "/api/v1/blueprints/x", parts, **{"X-Requested-By": "t"}
        )
        assert (status, text) == (201, b"")
        status, text, _ = _call(conn, "GET", "/api/v1/blueprints")
        assert (
            json.loads(text)["items"][0]["Blueprints"]["blueprint_name"] == "single-node-hdfs-yarn"
        )
        conn.close()


def test_head_is_get_without_a_body() -> None:
    with running() as (_, base, _clock):
        conn = _connection(base)
        _, got, _ = _call(conn, "GET", "/api/v1/stacks")
        status, text, response = _call(conn, "HEAD", "/api/v1/stacks")
        assert (status, text) == (200, b"")
        assert response.getheader("Content-Length") == str(len(got))
        assert response.getheader("Content-Type") == "text/plain;charset=utf-8"
        assert _call(conn, "GET", "/api/v1/clusters")[0] == 200  # still in step
        conn.close()


def test_check_answers_running() -> None:
    with running() as (_, base, _clock):
        reply = api(base, "GET", "check")
        assert (reply.status_code, reply.text) == (200, "RUNNING")
        assert reply.headers["Content-Type"] == "text/plain;charset=utf-8"
        assert api(base, "GET", "check", auth=None).status_code == 403


def test_empty_arrays_and_objects_as_jackson_prints_them() -> None:
    with running() as (_, base, _clock):
        text = api(base, "GET", "clusters").text
        assert text.endswith('"items" : [ ]\n}')
        api(base, "POST", "blueprints/b", shipped("single-node-hdfs-yarn"))
        listed = api(base, "GET", "blueprints").text
        assert '"items" : [ {\n    "href" : ' in listed
