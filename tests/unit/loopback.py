"""Loopback addresses of this checkout's own test net (CLOUDAGENT_TEST_NET), for unit tests
that bind real sockets: 127.<net>.250.0/24 stays clear of the integration clusters' subnets."""

from __future__ import annotations

import os
import socket

HOST = f"127.{os.environ.get('CLOUDAGENT_TEST_NET') or 100 + os.getpid() % 100}.250.1"


def free_port() -> int:
    """A port nothing listens on at HOST right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
