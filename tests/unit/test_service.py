"""The service settings and what a service's environment may hold."""

from __future__ import annotations

import pytest

from cloudagent.errors import ConfigError
from cloudagent.workload import ServiceSettings, child_environment, load_service


def test_command_is_split_like_a_shell_but_never_run_by_one() -> None:
    settings = load_service({"CLOUDAGENT_SERVICE_COMMAND": "zkServer.sh start-foreground 'a b'"})
    assert settings.command == ("zkServer.sh", "start-foreground", "a b")
    assert settings.active and settings.zk_id is None
    assert load_service({}) == ServiceSettings()
    assert not ServiceSettings().active


def test_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_service(
            {
                "CLOUDAGENT_SERVICE_COMMAND": "java 'unclosed",
                "CLOUDAGENT_ZK_ID": "300",
                "CLOUDAGENT_ZK_ENSEMBLE": "three",
            }
        )
    text = "\n".join(caught.value.problems)
    assert "CLOUDAGENT_SERVICE_COMMAND" in text
    assert "CLOUDAGENT_ZK_ID: '300' is not a ZooKeeper id" in text
    assert "CLOUDAGENT_ZK_ENSEMBLE" in text


def test_ensemble_needs_an_id() -> None:
    with pytest.raises(ConfigError, match="CLOUDAGENT_ZK_ID is not"):
        load_service({"CLOUDAGENT_ZK_ENSEMBLE": "3"})
    settings = load_service({"CLOUDAGENT_ZK_ID": "2", "CLOUDAGENT_ZK_ENSEMBLE": "3"})
    assert (settings.zk_id, settings.zk_ensemble, settings.active) == (2, 3, True)


def test_children_get_no_secrets() -> None:
    env = {
        "PATH": "/usr/bin",
        "JVMFLAGS": "-Xmx256m",
        "SERF_ENCRYPT_KEY": "k",
        "SERF_RPC_AUTH": "t",
        "AMBARI_PASSWORD": "p",
        "DEFAULT_PASSWORD_FILE": "/run/secrets/p",
        "SOME_API_TOKEN": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
    }
    assert child_environment(env) == {"PATH": "/usr/bin", "JVMFLAGS": "-Xmx256m"}
