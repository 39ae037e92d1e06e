from cloudagent.ambari.agentconf import DEFAULT_INI, read_settings, set_server_hostname

REAL = """# Licensed to the Apache Software Foundation (ASF) under one
[server]
hostname=localhost
url_port=8440
secured_url_port=8441

[agent]
hostname_script=/etc/ambari-agent/conf/internal-hostname.sh
"""


def test_only_the_hostname_line_changes() -> None:
    updated = set_server_hostname(REAL, "amb0.mycorp.kom")
    assert updated == REAL.replace("hostname=localhost", "hostname=amb0.mycorp.kom")
    # hostname_script is another key (the original's sed clobbered it: original-system #12)
    assert "hostname_script=/etc/ambari-agent/conf/internal-hostname.sh" in updated


def test_crlf_spacing_and_colon_are_preserved() -> None:
    text = "[server]\r\nhostname : old.x\r\nurl_port=8440\r\n"
    assert set_server_hostname(text, "new.x") == "[server]\r\nhostname : new.x\r\nurl_port=8440\r\n"


def test_missing_key_or_section_is_added() -> None:
    assert (
        set_server_hostname("[server]\nurl_port=1\n", "a.x")
        == "[server]\nhostname=a.x\nurl_port=1\n"
    )
    assert set_server_hostname("", "a.x") == "[server]\nhostname=a.x\n"
    assert set_server_hostname("[agent]\nx=1", "a.x") == "[agent]\nx=1\n[server]\nhostname=a.x\n"


def test_hostname_in_another_section_is_untouched() -> None:
    text = "[agent]\nhostname=keep.me\n[server]\nhostname=old\n"
    assert set_server_hostname(text, "new") == "[agent]\nhostname=keep.me\n[server]\nhostname=new\n"


def test_settings_with_defaults() -> None:
    settings = read_settings(set_server_hostname(DEFAULT_INI, "amb0.x"))
    assert (settings.server, settings.url_port, settings.secured_url_port) == ("amb0.x", 8440, 8441)
    assert read_settings("").server == "localhost"
