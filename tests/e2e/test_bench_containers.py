"""Smoke run of the container start -> served benchmark (3 containers, 1 trial): the probes
reach serf and dnsmasq inside the containers; no figure is asserted here."""

from __future__ import annotations

import os

import docker

from bench.containers import containers, unavailable
from cloudagent.dev.launch import LABEL


def test_container_start_to_served_smoke(image: str, engine: docker.DockerClient) -> None:
    assert unavailable() is None  # root and an engine: this suite has both
    prefix = f"e2e{os.getpid()}-bench"
    measured = containers(image, 3, 1, prefix, say=print)
    (trial,) = measured["trials"]
    # Each moment was seen (after the start); no order between them is asserted (polling).
    assert min(trial["a"], trial["b"], trial["c"]) > 0
    assert measured["c_minus_b_p50"] == trial["c"] - trial["b"]
    assert not engine.containers.list(all=True, filters={"label": f"{LABEL}={prefix}"})
    assert not engine.networks.list(filters={"label": f"{LABEL}={prefix}"})
