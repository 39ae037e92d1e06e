"""``make image``: build the cloudagent image with or without a reachable image registry.

The base image is, in order: BASE_IMAGE when present locally or pullable; else a local base
made with debootstrap from this machine's own Debian mirror (read from its apt sources at run
time) and ``docker import``. Our package goes in from a wheelhouse built on the host, so the
image build needs no Python index.
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
    local = f"cloudagent-base:{codename}"
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
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "--change", 'CMD ["/bin/bash"]', "-", local], stdin=tar.stdout)
        tar.wait()
    return local


def wheelhouse(target: Path) -> None:
    """Wheels of cloudagent and its dependencies, built with this machine's pip."""
    shutil.rmtree(target, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(target), str(ROOT)])


def build(tag: str = DEFAULT_TAG, base: str | None = None) -> str:
    """Build the image; returns its tag."""
    if shutil.which("docker") is None:
        raise CloudagentError("docker is not installed")
    chosen = base_image(base)
    with tempfile.TemporaryDirectory(prefix="cloudagent-image-") as context:
        wheelhouse(Path(context) / "wheelhouse")
        shutil.copy(ROOT / "images" / "Dockerfile", Path(context) / "Dockerfile")
        _run(
            [
                "docker",
                "build",
                "--network",
                "host",
                "--build-arg",
                f"BASE_IMAGE={chosen}",
                "--tag",
                tag,
                context,
            ],
            stdout=subprocess.DEVNULL,
        )
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
    with tempfile.TemporaryDirectory(prefix=f"cloudagent-{variant}-") as context:
        shutil.copy(dockerfile, Path(context) / "Dockerfile")
        _run(
            [
                "docker",
                "build",
                "--network",
                "host",
                "--build-arg",
                f"BASE_IMAGE={agent}",
                "--tag",
                tag,
                context,
            ],
            stdout=subprocess.DEVNULL,
        )
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
