"""``cloudagent blueprint validate`` (offline) and ``submit`` (to a running Ambari)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from cloudagent.ambari.blueprint import Rejection, parse_body, unwrap_cloudbreak
from cloudagent.ambari.stack import DEFAULT_AMBARI, ambari_table
from cloudagent.ambari.validate import Verdict, check_blueprint
from cloudagent.commands import submit
from cloudagent.errors import CloudagentError, ExitStatus, UsageError


def register(sub: Any) -> None:
    """Add ``blueprint`` and its subcommands."""
    blueprint = sub.add_parser("blueprint", help="validate or submit Ambari blueprints")
    bsub = blueprint.add_subparsers(dest="blueprint_command", metavar="ACTION", required=True)
    validate = bsub.add_parser(
        "validate",
        help="Ambari's verdict on registering each file, offline",
        description="Prints, for each file, what Ambari would answer to POST /blueprints/NAME: "
        "accepted, or the status and message. Exit status 1 when any file would be rejected.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", type=Path)
    validate.add_argument(
        "--stack",
        metavar="NAME-VERSION",
        help="validate against this stack instead of the blueprint's own",
    )
    validate.add_argument(
        "--ambari-version",
        metavar="V",
        help=f"Ambari version whose stacks to use (default: "
        f"{DEFAULT_AMBARI['HDP']} for HDP, {DEFAULT_AMBARI['BIGTOP']} for BIGTOP)",
    )
    validate.add_argument(
        "--no-topology",
        action="store_true",
        help="skip topology validation, as ?validate_topology=false does",
    )
    validate.set_defaults(handler=_validate)
    submit.register(bsub)


def _stack(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    name, sep, version = text.partition("-")
    if not sep or not name or not version:
        raise UsageError(f"--stack {text!r}: expected NAME-VERSION, e.g. HDP-2.6 or BIGTOP-3.3.0")
    return name, version


def verdict_for(
    path: Path, *, ambari: str | None, stack: tuple[str, str] | None, topology: bool
) -> tuple[Verdict, Verdict | None]:
    """The verdict for a file, and for the inner blueprint when it is Cloudbreak's wrapper."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CloudagentError(f"cannot read {path}: {exc}") from exc
    try:
        doc = parse_body(text)
    except Rejection as rejection:
        return Verdict(rejection.status, rejection.message), None
    name = path.name.removesuffix(".json")
    kwargs: dict[str, Any] = {
        "ambari": ambari,
        "validate_topology_": topology,
        "stack_override": stack,
    }
    verdict = check_blueprint(doc, url_name=name, **kwargs)
    inner = unwrap_cloudbreak(doc)
    return verdict, None if inner is None else check_blueprint(inner, url_name=name, **kwargs)


def _validate(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    if args.ambari_version:
        try:
            ambari_table(args.ambari_version)
        except ValueError as exc:
            raise UsageError(f"--ambari-version: {exc}") from None
    stack = _stack(args.stack)
    rejected = 0
    for path in args.files:
        verdict, inner = verdict_for(
            path, ambari=args.ambari_version, stack=stack, topology=not args.no_topology
        )
        rejected += not verdict.accepted
        out.write(f"{path}: {verdict.describe()}\n")
        if verdict.accepted and verdict.blueprint is not None:
            bp = verdict.blueprint
            out.write(
                f"  blueprint {bp.name!r}, stack {bp.stack.id} (Ambari {bp.stack.ambari}), "
                f"host groups: {', '.join(bp.host_groups)}\n"
            )
        if inner is not None:
            out.write(
                '  this is Cloudbreak\'s wrapper ({"blueprint": {...}, "inputs": ...}); Ambari '
                'takes only the inner "blueprint" object, which would be '
                f"{inner.describe()}\n"
            )
    if len(args.files) > 1:
        out.write(f"{len(args.files) - rejected} accepted, {rejected} rejected\n")
    return ExitStatus.FAILURE if rejected else ExitStatus.OK
