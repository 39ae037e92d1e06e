"""The slim base: what ``slim_rootfs`` removes from a debootstrap tree, and what it keeps."""

from __future__ import annotations

from pathlib import Path

from cloudagent.dev.imagebuild import DPKG_SLIM, slim_rootfs


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)


def test_slim_rootfs_drops_caches_docs_and_locales_keeps_copyright_and_config(
    tmp_path: Path,
) -> None:
    _tree(
        tmp_path,
        [
            "etc/dpkg/dpkg.cfg.d/.keep",
            "etc/apt/apt.conf.d/.keep",
            "var/lib/apt/lists/deb.example_dists_bookworm_InRelease",
            "var/lib/apt/lists/lock",
            "var/cache/apt/pkgcache.bin",
            "var/cache/apt/archives/bash_5.2_amd64.deb",
            "var/log/dpkg.log",
            "usr/share/man/man1/ls.1.gz",
            "usr/share/locale/de/LC_MESSAGES/coreutils.mo",
            "usr/share/info/coreutils.info.gz",
            "usr/share/doc/bash/copyright",
            "usr/share/doc/bash/changelog.Debian.gz",
            "usr/share/doc/bash/examples/loadables/Makefile",
            "usr/bin/bash",
            "usr/share/zoneinfo/UTC",
        ],
    )
    slim_rootfs(tmp_path)
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {
        "etc/dpkg/dpkg.cfg.d/.keep",
        "etc/dpkg/dpkg.cfg.d/cloudagent-slim",
        "etc/apt/apt.conf.d/.keep",
        "etc/apt/apt.conf.d/00cloudagent-slim",
        "usr/share/doc/bash/copyright",
        "usr/bin/bash",
        "usr/share/zoneinfo/UTC",
    }
    # update-alternatives (Java's man pages in the ZooKeeper variant) needs this directory.
    assert (tmp_path / "usr/share/man/man1").is_dir()
    assert (tmp_path / "etc/dpkg/dpkg.cfg.d/cloudagent-slim").read_text() == DPKG_SLIM
    assert "path-include /usr/share/doc/*/copyright" in DPKG_SLIM.splitlines()
