"""``make image``: build the cloudagent image with or without a reachable image registry.

The base image is, in order: BASE_IMAGE when present locally or pullable; else a local base
made with debootstrap (minbase) from this machine's own Debian mirror (read from its apt sources
at run time), slimmed like Debian's own slim images (no apt lists or caches, docs, man pages,
locales) and ``docker import``-ed as one layer. Our package and its dependencies are installed
on the host with this machine's pip into a directory the image copies (no pip, setuptools or
wheel in the image), so the image build needs no Python index.

A rebuild removes the image the tag named before (unless something still uses it), so
repeated builds leave no ``<none>`` images behind.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cloudagent.errors import CloudagentError

ROOT = Path(__file__).resolve().parents[2]  # the repository: images/ and pyproject.toml
DEFAULT_BASE = "debian:bookworm-slim"
DEFAULT_TAG = "cloudagent:latest"
# Service variants: images/<name>/Dockerfile, built on top of the agent image.
VARIANTS = {"zookeeper": "cloudagent-zookeeper:latest"}


def host_codename(os_release: str) -> str:
    """``VERSION_CODENAME`` of /etc/os-release.

    >>> host_codename('NAME="Debian"\\nVERSION_CODENAME=bookworm\\n')
    'bookworm'
    """
    match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", os_release, re.MULTILINE)
    if not match:
        raise CloudagentError("cannot tell this machine's Debian release (no VERSION_CODENAME)")
    return match.group(1)


def _one_line(text: str, codename: str) -> str | None:
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if (
            len(parts) >= 4
            and parts[0] == "deb"
            and not parts[1].startswith("[")
            and parts[2] == codename
            and "main" in parts[3:]
        ):
            return parts[1]
    return None


def _deb822(text: str, codename: str) -> str | None:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith("#"):
                fields[key.strip()] = value.strip()
        if (
            "deb" in fields.get("Types", "").split()
            and codename in fields.get("Suites", "").split()
            and "main" in fields.get("Components", "").split()
            and fields.get("URIs")
        ):
            return fields["URIs"].split()[0]
    return None


def debian_mirror(sources: Iterable[str], codename: str) -> str:
    """The mirror that serves ``codename main``, from apt source files (one-line or deb822).

    >>> debian_mirror(["deb http://example.org/debian bookworm main\\n"], "bookworm")
    'http://example.org/debian'
    >>> text = ("Types: deb\\nURIs: http://example.org/debian\\n"
    ...         "Suites: bookworm bookworm-updates\\nComponents: main\\n")
    >>> debian_mirror([text], "bookworm")
    'http://example.org/debian'
    """
    for text in sources:
        found = _one_line(text, codename) or _deb822(text, codename)
        if found:
            return found
    raise CloudagentError(f"no apt source for '{codename} main' on this machine")


def _sources() -> list[str]:
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    return [f.read_text() for f in files if f.is_file() and f.suffix in ("", ".list", ".sources")]


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    print("+", " ".join(argv), flush=True)
    return subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def _have_image(name: str) -> bool:
    inspect = subprocess.run(["docker", "image", "inspect", name], check=False, capture_output=True)
    return inspect.returncode == 0


# dpkg and apt settings of the slim base, so later installs (the agent's packages, a variant's)
# stay slim too: dpkg skips docs (but not copyright files), man pages, info and translations
# (dpkg.cfg(5) path-exclude/path-include); apt keeps no package caches and no .debs
# (apt.conf(5) Dir::Cache::pkgcache, APT::Keep-Downloaded-Packages) and fetches no translations.
DPKG_SLIM = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
"""
APT_SLIM = """\
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
"""
# Bump when the base recipe changes: a machine then makes the new base instead of reusing one.
BASE_RECIPE = "slim1"


def slim_rootfs(rootfs: Path) -> None:
    """Remove from a debootstrap tree what a container never reads, and keep it that way."""
    (rootfs / "etc/dpkg/dpkg.cfg.d/cloudagent-slim").write_text(DPKG_SLIM)
    (rootfs / "etc/apt/apt.conf.d/00cloudagent-slim").write_text(APT_SLIM)
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/log/*.log",
        "var/log/apt/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/groff/*",
        "usr/share/lintian/*",
        "usr/share/locale/*",
    ):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for doc in (rootfs / "usr/share/doc").glob("*/*"):
        if doc.name != "copyright" and (doc.is_file() or doc.is_symlink()):
            doc.unlink()
        elif doc.is_dir():
            shutil.rmtree(doc)
    # Java's postinst registers man pages with update-alternatives, which needs the directory.
    (rootfs / "usr/share/man/man1").mkdir(parents=True, exist_ok=True)


def base_image(requested: str | None) -> str:
    """A base image present locally: the requested one, or a debootstrap-made one."""
    wanted = requested or DEFAULT_BASE
    if _have_image(wanted):
        return wanted
    try:
        subprocess.run(["docker", "pull", wanted], capture_output=True, check=True, timeout=60)
        return wanted
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        if requested:
            raise CloudagentError(f"BASE_IMAGE {requested} is neither local nor pullable") from None
    codename = host_codename(Path("/etc/os-release").read_text())
    local = f"cloudagent-base:{codename}-{BASE_RECIPE}"
    if _have_image(local):
        return local
    if shutil.which("debootstrap") is None:
        raise CloudagentError(
            "no registry reachable and debootstrap is not installed (apt-get install debootstrap)"
        )
    mirror = debian_mirror(_sources(), codename)
    print(f"no registry reachable: making {local} with debootstrap from {mirror}", flush=True)
    with tempfile.TemporaryDirectory(prefix="cloudagent-rootfs-") as rootfs:
        _run(
            ["debootstrap", "--variant=minbase", codename, rootfs, mirror],
            stdout=subprocess.DEVNULL,
        )
        slim_rootfs(Path(rootfs))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "--change", 'CMD ["/bin/bash"]', "-", local], stdin=tar.stdout)
        tar.wait()
    return local


# Where the image keeps our package: a venv without pip whose .pth points at SITE.
PREFIX = "/opt/cloudagent"
SITE = f"{PREFIX}/site"


def install_tree(target: Path) -> None:
    """cloudagent and its dependencies installed with this machine's pip into ``target``:
    ``site`` (the packages, byte-compiled for the image's path) and ``bin`` (entry points
    whose interpreter is the image's venv)."""
    shutil.rmtree(target, ignore_errors=True)
    wheels, site = target / "wheels", target / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--quiet", "--wheel-dir", str(wheels), str(ROOT)])
    _run(
        [
            *pip,
            *("install", "--quiet", "--no-index", "--find-links", str(wheels)),
            *("--no-compile", "--target", str(site), "cloudagent"),
        ]
    )
    shutil.rmtree(wheels)
    # unchecked-hash: the image's files never change, so Python loads these without reading
    # and hashing the source on every start (PEP 552); -d names the image's path in tracebacks.
    _run(
        [
            *(sys.executable, "-m", "compileall", "-q", "-j", "0", "-d", SITE),
            *("--invalidation-mode", "unchecked-hash", str(site)),
        ]
    )
    (target / "bin").mkdir()
    for script in sorted((site / "bin").iterdir()):
        lines = script.read_text().splitlines(keepends=True)
        lines[0] = f"#!{PREFIX}/bin/python3\n"
        (target / "bin" / script.name).write_text("".join(lines))
        (target / "bin" / script.name).chmod(0o755)
    shutil.rmtree(site / "bin")


def _image_id(name: str) -> str | None:
    inspect = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", name],
        check=False,
        capture_output=True,
        text=True,
    )
    return inspect.stdout.strip() if inspect.returncode == 0 else None


def drop_replaced(tag: str, previous: str | None) -> None:
    """Remove the image ``tag`` named before a rebuild, so rebuilds leave no ``<none>`` images.

    Docker refuses when a container or another tag still uses it (or a variant is built on it;
    rebuilding the variant then removes both): that is reported, never forced."""
    if previous is None or previous == _image_id(tag):
        return
    done = subprocess.run(
        ["docker", "image", "rm", previous], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "in use"
        print(f"kept the previous {tag} ({previous[7:19]}): {reason}", flush=True)


def _docker_build(context: Path, *, base: str, tag: str) -> None:
    """``docker build`` of ``context`` on ``base`` as ``tag`` (host network: apt reaches the
    machine's own mirror as the host does)."""
    argv = ["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}"]
    _run([*argv, "--tag", tag, str(context)], stdout=subprocess.DEVNULL)


def build(tag: str = DEFAULT_TAG, base: str | None = None) -> str:
    """Build the image; returns its tag."""
    if shutil.which("docker") is None:
        raise CloudagentError("docker is not installed")
    chosen = base_image(base)
    previous = _image_id(tag)
    with tempfile.TemporaryDirectory(prefix="cloudagent-image-") as context:
        install_tree(Path(context) / "cloudagent")
        shutil.copy(ROOT / "images" / "Dockerfile", Path(context) / "Dockerfile")
        _docker_build(Path(context), base=chosen, tag=tag)
    drop_replaced(tag, previous)
    print(f"built {tag} on {chosen}", flush=True)
    return tag


def build_variant(variant: str, tag: str | None = None, agent: str = DEFAULT_TAG) -> str:
    """Build a service variant (``images/<variant>/Dockerfile``) on the agent image ``agent``.

    Its packages come from the apt sources the agent image already has, so no registry is named.
    """
    if variant not in VARIANTS:
        raise CloudagentError(f"no image variant {variant!r}; known: {', '.join(VARIANTS)}")
    tag = tag or VARIANTS[variant]
    if not _have_image(agent):
        raise CloudagentError(f"agent image {agent} not found; build it first with 'make image'")
    dockerfile = ROOT / "images" / variant / "Dockerfile"
    previous = _image_id(tag)
    with tempfile.TemporaryDirectory(prefix=f"cloudagent-{variant}-") as context:
        shutil.copy(dockerfile, Path(context) / "Dockerfile")
        _docker_build(Path(context), base=agent, tag=tag)
    drop_replaced(tag, previous)
    print(f"built {tag} on {agent}", flush=True)
    return tag


def main(argv: list[str] | None = None) -> int:
    """``make image``: build the agent image; returns the exit status."""
    parser = argparse.ArgumentParser(prog="make image", description=__doc__)
    parser.add_argument("--tag", default=DEFAULT_TAG, help="the agent image's tag")
    parser.add_argument(
        "--base", help=f"base image (default {DEFAULT_BASE} or a local debootstrap base)"
    )
    parser.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        help="also build this service variant on the agent image (e.g. zookeeper)",
    )
    parser.add_argument("--variant-tag", help="the variant's tag (default: cloudagent-<variant>)")
    args = parser.parse_args(argv)
    try:
        build(args.tag, args.base)
        if args.variant:
            build_variant(args.variant, args.variant_tag, agent=args.tag)
    except (CloudagentError, subprocess.CalledProcessError) as exc:
        print(f"make image: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
