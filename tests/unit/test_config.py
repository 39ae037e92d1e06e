from pathlib import Path

import pytest

from cloudagent import config, values
from cloudagent.endpoint import Endpoint
from cloudagent.environ import Collector
from cloudagent.errors import ConfigError
from cloudagent.serf.process import serf_config

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
    assert values.resolv_conf_upstreams(text, Endpoint("127.0.0.1", 53)) == (
        Endpoint("10.0.0.2", 53),
        Endpoint("fe80::1", 53),
    )


@pytest.mark.parametrize("text", ["[::1", "host:", ":53", "a:b:c:d]"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(ValueError):
        values.parse_endpoint(text)


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
    first, second = values.new_gossip_key(), values.new_gossip_key()
    assert first != second
    assert values.encrypt_key(first.reveal()) == first


def problems_of(env: dict[str, str], **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(env, **kwargs)
    return caught.value.problems


@pytest.mark.parametrize("path", ["/var/lib/x\nuser=root", "/var/lib/x\rdir", "relative/dir"])
def test_state_dir_must_be_a_plain_absolute_path(path: str) -> None:
    assert [p.split(":")[0] for p in problems_of({"CLOUDAGENT_STATE_DIR": path})] == [
        "CLOUDAGENT_STATE_DIR"
    ]


@pytest.mark.parametrize("grace", ["-5", "8d", "999999h", "nan"])
def test_failed_grace_range(grace: str) -> None:
    (problem,) = problems_of({"CLOUDAGENT_FAILED_GRACE": grace})
    assert problem.startswith("CLOUDAGENT_FAILED_GRACE:")


def test_failed_grace_zero_and_a_week_are_allowed() -> None:
    assert load({"CLOUDAGENT_FAILED_GRACE": "0"}).failed_grace == 0
    assert load({"CLOUDAGENT_FAILED_GRACE": "168h"}).failed_grace == 7 * 24 * 3600


@pytest.mark.parametrize("join", ["10.0.0.1,bad_host", "10.0.0.300", "-lead.x:7946", "a:b:c:d"])
def test_join_entries_must_be_addresses_or_host_names(join: str) -> None:
    (problem,) = problems_of({"SERF_JOIN_IP": join})
    assert problem.startswith("SERF_JOIN_IP:")


def test_join_accepts_host_names() -> None:
    assert load({"SERF_JOIN_IP": "server.cluster.internal:7950"}).join == (
        Endpoint("server.cluster.internal", 7950),
    )


@pytest.mark.parametrize(
    ("node", "domain", "word"),
    [
        ("host1.localdomain", None, "placeholder"),
        ("host1", "printers.local", "multicast"),
        ("host1.localhost", None, "loopback"),
    ],
)
def test_placeholder_domains_are_refused(node: str, domain: str | None, word: str) -> None:
    env = {"CLOUDAGENT_NODE_NAME": node} | ({"MYDOMAIN": domain} if domain else {})
    (problem,) = problems_of(env)
    assert word in problem and "set MYDOMAIN" in problem
    assert problem.startswith("MYDOMAIN" if domain else "the domain taken from 'host1.")


def test_summary_names_its_fields_and_masks_secrets() -> None:
    cfg = load({"SERF_RPC_AUTH": "tok3n", "SERF_JOIN_IP": "10.0.0.1"})
    line = cfg.summary()
    assert line.startswith("domain=example.org, join=10.0.0.1:7946, advertise=(serf chooses),")
    assert "gossip-encryption=off" in line and "rpc-auth=on" in line
    assert "tok3n" not in line


def test_collect_leaves_problems_in_the_collector() -> None:
    c = Collector({"AMBARI_ROLE": "boss", "CLOUDAGENT_NODE_NAME": "n1"})
    cfg = config.collect(c, is_root=False)
    assert cfg.role == "agent"  # the default stands in for the bad value
    assert [p.split(":")[0] for p in c.problems] == ["AMBARI_ROLE"]
    with pytest.raises(ConfigError):
        c.finish()


def test_serf_profile_defaults_to_lan_and_reaches_serfs_config() -> None:
    assert load({}).serf_profile == "lan"
    cfg = load({"CLOUDAGENT_SERF_PROFILE": "Local"})
    assert cfg.serf_profile == "local"
    assert serf_config(cfg, {})["profile"] == "local"
    with pytest.raises(ConfigError, match="CLOUDAGENT_SERF_PROFILE"):
        load({"CLOUDAGENT_SERF_PROFILE": "fast"})
