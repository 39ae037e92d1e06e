from pathlib import Path

import pytest

from cloudagent.errors import ConfigError
from cloudagent.secret import Secret, read_secret


def secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_value_file_or_nothing(tmp_path: Path) -> None:
    assert read_secret({"X": "v"}, "X") == Secret("v")
    assert read_secret({}, "X") is None
    path = secret_file(tmp_path, "from-file\n")
    assert read_secret({"X_FILE": str(path)}, "X") == Secret("from-file")


def test_file_strips_exactly_one_newline_and_nothing_else(tmp_path: Path) -> None:
    path = secret_file(tmp_path, " two words \n\n")
    assert read_secret({"X_FILE": str(path)}, "X") == Secret(" two words \n")


def test_value_from_the_environment_is_taken_as_is() -> None:
    assert read_secret({"X": " spaced\n"}, "X") == Secret(" spaced\n")


def test_empty_variables_count_as_unset() -> None:
    assert read_secret({"X": "", "X_FILE": ""}, "X") is None


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "\n")
    with pytest.raises(ConfigError, match=r"X_FILE: .* is empty"):
        read_secret({"X_FILE": str(path)}, "X")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_file(tmp_path, "s3cret", mode)
    with pytest.raises(ConfigError, match=r"X_FILE: .*chmod 600") as caught:
        read_secret({"X_FILE": str(path)}, "X")
    assert "s3cret" not in str(caught.value)


def test_stricter_modes_are_fine(tmp_path: Path) -> None:
    assert read_secret({"X_FILE": str(secret_file(tmp_path, "s", 0o400))}, "X") == Secret("s")


def test_both_set_is_an_error(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "s")
    with pytest.raises(ConfigError, match="X and X_FILE are both set; keep one"):
        read_secret({"X": "v", "X_FILE": str(path)}, "X")


def test_missing_or_binary_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"X_FILE: cannot read .*: No such file"):
        read_secret({"X_FILE": str(tmp_path / "absent")}, "X")
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe")
    binary.chmod(0o600)
    with pytest.raises(ConfigError, match=r"X_FILE: cannot read .*not UTF-8"):
        read_secret({"X_FILE": str(binary)}, "X")
