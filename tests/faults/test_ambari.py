"""Ambari faults under the server role: refused, garbage, 500s, slow replies, a FAILED request.

The emulator runs outside the agents (AMBARI_SERVER_COMMAND empty), so the test decides when it
answers and how (its fault knobs, PUT /emulator/faults). DNS is probed throughout: Ambari's
troubles must never reach it.
"""

from __future__ import annotations

import http.server
import io
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cloudagent.ambari.client import AmbariClient
from cloudagent.cli import main
from cloudagent.dev.localcluster import LocalCluster, require_programs, wait_for
from cloudagent.secret import Secret
from tests.faults.conftest import ROWS, Prober, Row
from tests.faults.helpers import expected, log_text, serves
from tests.integration.conftest import unique_subnet
from tests.nodecli import status

AMBARI = {"BLUEPRINT": "multi-node-hdfs-yarn", "CLUSTER_NAME": "ft", "EXPECTED_HOST_COUNT": "2",
          "AMBARI_SERVER_COMMAND": "", "AMBARI_POLL": "0.5"}  # fmt: skip


class Garbage(http.server.BaseHTTPRequestHandler):
    """Answers everything with 200 and a body that is not JSON (a proxy's error page)."""

    def do_GET(self) -> None:
        body = b"<html><body>Bad gateway</body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_GET

    def log_message(self, *args: object) -> None:
        pass


def emulator(address: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cloudagent", "ambari-emulator", "--listen", f"{address}:8080",
         "--agent-listen", f"{address}:8440", "--task-seconds", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def faults(address: str, **knobs: object) -> None:
    url = f"http://{address}:8080/emulator/faults"
    for _ in range(100):
        try:
            reply = requests.put(url, json=knobs, auth=("admin", "admin"),
                                 headers={"X-Requested-By": "test"}, timeout=5)  # fmt: skip
        except requests.ConnectionError:
            time.sleep(0.1)
            continue
        reply.raise_for_status()
        return
    raise AssertionError("the emulator did not come up")


@pytest.fixture
def ambari_cluster() -> Iterator[LocalCluster]:
    require_programs()
    base = Path(tempfile.mkdtemp(prefix="cloudagent-ambari-faults-"))
    base.chmod(0o755)
    cluster = LocalCluster(base, subnet=unique_subnet(), ambari=AMBARI, task_seconds=1.0)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_ambari_refused_then_garbage_then_500s_and_slow(ambari_cluster: LocalCluster) -> None:
    server_address = ambari_cluster.address(1)
    nodes = ambari_cluster.start(2)
    server = nodes[0]
    rows = {name: Row(name) for name in ("ambari_refused", "ambari_malformed_json",
                                         "ambari_500s_and_slow")}  # fmt: skip
    ROWS.extend(rows.values())
    wait_for(lambda: all(serves(n, nodes) for n in nodes), 30, 0.2, what="nodes served")
    # 1. Nothing listens: the server role waits, says why, and DNS is untouched.
    with Prober(nodes, expected(nodes), rows["ambari_refused"]):
        wait_for(lambda: status(nodes[1]).get("phase") == "waiting-for-ambari", 30, 0.3,
                 what="waiting for Ambari")  # fmt: skip
        time.sleep(2)
    assert "cannot reach Ambari" in log_text(server) or "waiting for the Ambari API" in log_text(
        server
    )
    # 2. Something answers garbage: an error with a clear line, never a crash of the role.
    garbage = http.server.ThreadingHTTPServer((server_address, 8080), Garbage)
    thread = threading.Thread(target=garbage.serve_forever, daemon=True)
    thread.start()
    try:
        with Prober(nodes, expected(nodes), rows["ambari_malformed_json"]):
            wait_for(lambda: "unexpected reply from Ambari" in log_text(server), 30, 0.3,
                     what="the garbage reported")  # fmt: skip
            time.sleep(2)
    finally:
        garbage.shutdown()
        garbage.server_close()
    assert status(nodes[1]).get("phase") == "error"
    assert "Traceback" not in log_text(server)
    # 3. The real API, answering 500 five times and then slowly: provisioning completes, once.
    process = emulator(server_address)
    try:
        faults(server_address, http_500=5, delay=0.5)
        start = time.monotonic()
        with Prober(nodes, expected(nodes), rows["ambari_500s_and_slow"]):
            wait_for(lambda: status(nodes[1]).get("phase") == "completed", 120, 0.5,
                     what="provisioned despite 500s and slow replies")  # fmt: skip
        rows["ambari_500s_and_slow"].recovered = time.monotonic() - start
        ambari = AmbariClient(f"http://{server_address}:8080", password=Secret("admin"))
        assert ambari.request_ids("ft") == [1]  # never a second cluster
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    for row in rows.values():
        assert row.wrong == 0 and row.unanswered == 0, row
    assert log_text(server).count("cluster ft requested") == 1


def test_ambari_request_ends_failed(ambari_cluster: LocalCluster, row: Row) -> None:
    server_address = ambari_cluster.address(1)
    process = emulator(server_address)
    try:
        faults(server_address, fail_component="DATANODE")
        nodes = ambari_cluster.start(2)
        wait_for(lambda: all(serves(n, nodes) for n in nodes), 30, 0.2, what="nodes served")
        with Prober(nodes, expected(nodes), row):
            wait_for(lambda: status(nodes[1]).get("phase") == "failed", 120, 0.5,
                     what="the request reported FAILED")  # fmt: skip
            time.sleep(3)  # it keeps following; it never creates a second cluster
        out = io.StringIO()
        code = main(["status"], environ=nodes[1].env_for_cli(), stdout=out, stderr=io.StringIO())
        assert code == 1 and "failed" in out.getvalue()
        ambari = AmbariClient(f"http://{server_address}:8080", password=Secret("admin"))
        assert ambari.request_ids("ft") == [1]
        assert "ERROR cloudagent.ambari.runner: ambari: failed: request 1 FAILED" in log_text(
            nodes[0]
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    assert row.wrong == 0 and row.unanswered == 0, row
