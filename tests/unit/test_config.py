from pathlib import Path

import pytest

from cloudagent import config
from cloudagent.endpoint import Endpoint
from cloudagent.errors import ConfigError

KEY = "cg8StVXbQJ0gPvMd9o7yrg=="  # 16 bytes, base64


def load(env: dict[str, str], **kwargs: object) -> config.Config:
    return config.load(env, default_node_name=lambda: "host1.example.org", is_root=True, **kwargs)  # type: ignore[arg-type]


def test_defaults() -> None:
    cfg = load({})
    assert cfg.role == "agent"
    assert cfg.node_name == "host1.example.org"
    assert cfg.fqdn == "host1.example.org"
    assert cfg.domain == "example.org"  # from the node's own FQDN
    assert cfg.join == ()
    assert cfg.serf_bind == Endpoint("0.0.0.0", 7946)
    assert cfg.serf_rpc == Endpoint("127.0.0.1", 7373)
    assert cfg.dns_listen == Endpoint("127.0.0.1", 53)
    assert cfg.dns_upstream is None
    assert cfg.failed_grace == 300.0
    assert cfg.dnsmasq_user == "nobody"


def test_short_node_name_takes_mydomain() -> None:
    cfg = load({"CLOUDAGENT_NODE_NAME": "Node1", "MYDOMAIN": "Mycorp.KOM"})
    assert (cfg.node_name, cfg.domain, cfg.fqdn) == ("node1", "mycorp.kom", "node1.mycorp.kom")
    assert load({"CLOUDAGENT_NODE_NAME": "node1"}).domain == "cluster.internal"


def test_all_variables() -> None:
    cfg = load(
        {
            "AMBARI_ROLE": "Server",
            "SERF_JOIN_IP": "10.0.0.1, 10.0.0.2:8000,[fd00::1]:7946",
            "SERF_ADVERTISE_IP": "10.0.0.9",
            "SERF_ENCRYPT_KEY": KEY,
            "SERF_RPC_AUTH": "token",
            "DNS_UPSTREAM": "10.0.0.53,10.0.0.54:5353",
            "CLOUDAGENT_SERF_BIND": "127.0.0.11:7946",
            "CLOUDAGENT_SERF_RPC": "127.0.0.11:7373",
            "CLOUDAGENT_DNS_LISTEN": "127.0.0.11:5353",
            "CLOUDAGENT_STATE_DIR": "/tmp/x",
            "CLOUDAGENT_FAILED_GRACE": "2m",
        }
    )
    assert cfg.role == "server"
    assert cfg.join == (
        Endpoint("10.0.0.1", 7946),
        Endpoint("10.0.0.2", 8000),
        Endpoint("fd00::1", 7946),
    )
    assert str(cfg.join[2]) == "[fd00::1]:7946"
    assert cfg.advertise == "10.0.0.9"
    assert cfg.encrypt_key is not None and cfg.encrypt_key.reveal() == KEY
    assert cfg.dns_upstream == (Endpoint("10.0.0.53", 53), Endpoint("10.0.0.54", 5353))
    assert cfg.failed_grace == 120.0
    assert cfg.state_dir == Path("/tmp/x")


def test_run_argument_wins_over_environment() -> None:
    assert load({"AMBARI_ROLE": "agent"}, role="server").role == "server"


def test_dns_upstream_none() -> None:
    assert load({"DNS_UPSTREAM": "none"}).dns_upstream == ()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            {
                "AMBARI_ROLE": "boss",
                "CLOUDAGENT_NODE_NAME": "bad name",
                "SERF_JOIN_IP": "10.0.0.1:99999",
                "SERF_ADVERTISE_IP": "not-an-ip",
                "SERF_ENCRYPT_KEY": "c2hvcnQ=",
                "CLOUDAGENT_SERF_RPC": "10.0.0.1:7373",
                "CLOUDAGENT_DNS_LISTEN": "localhost:53",
                "CLOUDAGENT_FAILED_GRACE": "soon",
                "DNS_UPSTREAM": "8.8.8.8:x",
            }
        )
    problems = caught.value.problems
    names = [p.split(":")[0] for p in problems]
    assert names == [
        "AMBARI_ROLE",
        "CLOUDAGENT_NODE_NAME",
        "SERF_JOIN_IP",
        "SERF_ADVERTISE_IP",
        "CLOUDAGENT_SERF_RPC",
        "CLOUDAGENT_DNS_LISTEN",
        "DNS_UPSTREAM",
        "CLOUDAGENT_FAILED_GRACE",
        "SERF_ENCRYPT_KEY",
    ]
    assert "16, 24 or 32" in problems[-1]
    assert "c2hvcnQ=" not in str(caught.value)  # a secret is never echoed, even a bad one


def test_secret_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    cfg = config.load(
        {"SERF_ENCRYPT_KEY_FILE": str(key_file), "CLOUDAGENT_NODE_NAME": "n1"}, is_root=False
    )
    assert cfg.encrypt_key is not None and cfg.encrypt_key.reveal() == KEY
    assert KEY not in repr(cfg)


def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        config.load({"SERF_ENCRYPT_KEY_FILE": str(key_file), "CLOUDAGENT_NODE_NAME": "n1"})


def test_secret_and_file_both_set() -> None:
    with pytest.raises(ConfigError, match="both set"):
        load({"SERF_RPC_AUTH": "a", "SERF_RPC_AUTH_FILE": "/x"})


def test_resolv_conf_upstreams_skip_our_own_listener() -> None:
    text = "search x\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n"
    assert config.resolv_conf_upstreams(text, Endpoint("127.0.0.1", 53)) == (
        Endpoint("10.0.0.2", 53),
        Endpoint("fe80::1", 53),
    )


@pytest.mark.parametrize("text", ["[::1", "host:", ":53", "a:b:c:d]"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(ValueError):
        config.parse_endpoint(text)


def test_generated_rpc_token_is_read_from_the_state_dir(tmp_path: Path) -> None:
    env = {"CLOUDAGENT_STATE_DIR": str(tmp_path)}
    assert load(env).rpc_auth is None  # no agent has run here yet
    token = tmp_path / "serf" / "rpc-token"
    token.parent.mkdir()
    token.write_text("t0ken\n")
    token.chmod(0o600)
    cfg = load(env)
    assert cfg.rpc_token_file == token
    assert cfg.rpc_auth is not None and cfg.rpc_auth.reveal() == "t0ken"
    # The operator's own token wins; a token others may read is not used.
    given = load({**env, "SERF_RPC_AUTH": "mine"}).rpc_auth
    assert given is not None and given.reveal() == "mine"
    token.chmod(0o644)
    assert load(env).rpc_auth is None


def test_new_gossip_keys_are_valid_and_differ() -> None:
    first, second = config.new_gossip_key(), config.new_gossip_key()
    assert first != second
    assert config.encrypt_key(first.reveal()) == first
