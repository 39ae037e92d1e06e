from pathlib import Path

import pytest

from cloudagent.errors import CloudagentError
from cloudagent.secret import from_env


def test_secret_from_value_file_or_nothing(tmp_path: Path) -> None:
    assert from_env({"X": "v"}, "X") == "v"
    assert from_env({}, "X") is None
    secret = tmp_path / "x"
    secret.write_text("from-file\n")
    secret.chmod(0o600)
    assert from_env({"X": "v", "X_FILE": str(secret)}, "X") == "from-file"
    secret.chmod(0o644)
    with pytest.raises(CloudagentError, match=r"X_FILE: .*chmod 600"):
        from_env({"X_FILE": str(secret)}, "X")
