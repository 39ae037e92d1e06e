from pathlib import Path

import pytest

from cloudagent.environ import Collector
from cloudagent.errors import ConfigError
from cloudagent.secret import Secret


def test_blank_counts_as_unset() -> None:
    c = Collector({"A": "  ", "B": " b "})
    assert (c.get("A"), c.get("B"), c.get("C")) == (None, "b", None)


def test_every_problem_is_kept_and_defaults_stand_in() -> None:
    c = Collector({"N": "x", "F": "maybe", "K": "-1"})
    assert c.number("N", 2.0, low=0, high=10) == 2.0
    assert c.flag("F", default=True) is True
    assert c.count("K", 1, low=1, high=5) == 1
    assert [p.split(":")[0] for p in c.problems] == ["N", "F", "K"]
    with pytest.raises(ConfigError) as caught:
        c.finish()
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("text", "ok"),
    [("0", False), ("0.001", True), ("3600", True), ("3601", False), ("inf", False)],
)
def test_number_with_an_open_low_bound(text: str, ok: bool) -> None:
    c = Collector({"P": text})
    value = c.number("P", 2.0, low=0, low_open=True, high=3600, unit="s")
    assert (value == float(text)) is ok
    assert (not c.problems) is ok
    if not ok:
        assert c.problems == [
            f"P: {text!r} is out of range; use a number above 0s and at most 3600s"
        ]


@pytest.mark.parametrize(("text", "value"), [("on", True), ("OFF", False), ("0", False)])
def test_flag(text: str, value: bool) -> None:
    assert Collector({"F": text}).flag("F", default=not value) is value


def test_secret_problems_are_collected_never_echoed(tmp_path: Path) -> None:
    def check(text: str) -> Secret:
        raise ValueError("is too short")

    open_file = tmp_path / "s"
    open_file.write_text("visible")
    open_file.chmod(0o644)
    c = Collector({"A": "hunter2", "B_FILE": str(open_file)})
    assert c.secret("A", check) is None
    assert c.secret("B") is None
    assert c.problems[0] == "A: is too short"
    assert c.problems[1].startswith("B_FILE: cannot read")
    assert "hunter2" not in str(c.problems) and "visible" not in str(c.problems)
