"""End-to-end fixtures: the real Docker engine and the image built as `make image` builds it.

A missing engine fails these tests; it never skips them (`make test` starts dockerd)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import docker
import pytest

from cloudagent.dev.imagebuild import build, build_variant
from cloudagent.dev.launch import LABEL, Launcher

# Parallel checkouts on one engine give each its own tag (CLOUDAGENT_TEST_IMAGE).
IMAGE = os.environ.get("CLOUDAGENT_TEST_IMAGE") or "cloudagent:e2e"
# The ZooKeeper variant's tag follows the agent's: cloudagent:e2e-x -> cloudagent-zookeeper:e2e-x.
ZK_IMAGE = (
    os.environ.get("CLOUDAGENT_TEST_ZK_IMAGE") or "cloudagent-zookeeper:" + IMAGE.rpartition(":")[2]
)


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    client = docker.from_env()
    client.ping()  # raises when dockerd is not running: a failure, not a skip
    return client


@pytest.fixture(scope="session")
def image(engine: docker.DockerClient) -> str:
    started = time.monotonic()
    build(IMAGE)
    print(f"\nimage build: {time.monotonic() - started:.1f}s")
    return IMAGE


@pytest.fixture(scope="session")
def zk_image(image: str) -> str:
    started = time.monotonic()
    build_variant("zookeeper", ZK_IMAGE, agent=image)
    print(f"\nzookeeper image build: {time.monotonic() - started:.1f}s")
    return ZK_IMAGE


@pytest.fixture
def launcher(engine: docker.DockerClient) -> Iterator[Launcher]:
    launcher = Launcher(engine, say=lambda line: print(line, flush=True))
    yield launcher
    prefix = f"e2e{os.getpid()}-n"
    launcher.down(prefix)
    left = engine.containers.list(all=True, filters={"label": f"{LABEL}={prefix}"})
    assert not left, f"left behind: {[c.name for c in left]}"
