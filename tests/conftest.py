import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary directory every user can traverse (dnsmasq reads its hosts file as nobody;
    pytest's own tmp_path lives under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="cloudagent-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
