import os
from pathlib import Path

import pytest

from cloudagent.files import DigestedFile, ManagedFile, write_atomic


def test_write_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "hosts"
    write_atomic(target, "a\n", mode=0o640)
    assert target.read_text() == "a\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert os.listdir(tmp_path) == ["hosts"]


def test_managed_file_writes_only_changes(tmp_path: Path) -> None:
    target = tmp_path / "hosts"
    target.write_text("old\n")
    managed = ManagedFile(target)
    assert managed.text == "old\n"  # last good state picked up at start
    assert managed.write("old\n") is False
    inode = target.stat().st_ino
    assert managed.write("new\n") is True
    assert target.read_text() == "new\n"
    assert target.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert managed.write("new\n") is False


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "hosts"
    write_atomic(target, "good\n")
    try:
        write_atomic(target, "bad \ud800\n")  # a lone surrogate cannot be encoded: fails midway
    except UnicodeEncodeError:
        pass
    else:
        raise AssertionError("the write should have failed")
    assert target.read_text() == "good\n"
    assert os.listdir(tmp_path) == ["hosts"]


def test_digested_file_writes_only_changes_and_retries_a_failed_write(tmp_path: Path) -> None:
    target = tmp_path / "table"
    target.write_text("old\n")
    digested = DigestedFile(target)
    assert digested.write("old\n") is False  # the file found at start counts
    assert digested.write("new\n") is True
    assert target.read_text() == "new\n"
    assert digested.write("new\n") is False
    for _ in range(2):  # a text that failed to be written is tried again, not remembered
        with pytest.raises(UnicodeEncodeError):
            digested.write("bad \ud800\n")
    assert target.read_text() == "new\n"
    assert DigestedFile(tmp_path / "absent").write("") is True
