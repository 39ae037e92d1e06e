"""Host names as DNS and Ambari accept them (RFC 1123), and how a node name becomes an FQDN."""

from __future__ import annotations

import re
from typing import Final

MAX_NAME: Final = 253
MAX_LABEL: Final = 63
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def hostname_problem(name: str) -> str | None:
    """Why ``name`` is not a valid host name, or None when it is. Expects lower case.

    >>> hostname_problem("node1.cluster.internal") is None
    True
    >>> hostname_problem("a..b")
    'empty label'
    >>> hostname_problem("bad name")
    "label 'bad name' has a character outside a-z, 0-9 and '-'"
    >>> hostname_problem("10.0.0.1")
    'last label is all digits (looks like an address)'
    """
    if not name:
        return "empty name"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    labels = name.split(".")
    for label in labels:
        if not label:
            return "empty label"
        if len(label) > MAX_LABEL:
            return f"label longer than {MAX_LABEL} characters"
        if not _LABEL.fullmatch(label):
            if label.startswith("-") or label.endswith("-"):
                return f"label {label!r} starts or ends with '-'"
            return f"label {label!r} has a character outside a-z, 0-9 and '-'"
    if labels[-1].isdigit():
        return "last label is all digits (looks like an address)"
    return None


def normalise(name: str) -> str:
    """Fold a host name to the form DNS answers with and Ambari registers: lower case.

    >>> normalise("Node1.Cluster.Internal")
    'node1.cluster.internal'
    """
    folded = name.lower()
    # Most names are lower case already: the same string then, not a copy per member.
    return name if folded == name else folded


def fqdn(name: str, domain: str) -> str:
    """The FQDN of a member: its name if it has a dot, else ``name.domain``.

    >>> fqdn("node1", "cluster.internal"), fqdn("node1.other.org", "cluster.internal")
    ('node1.cluster.internal', 'node1.other.org')
    """
    return name if "." in name else f"{name}.{domain}"


def short(fqdn_: str) -> str:
    """The first label, served as an alias.

    >>> short("node1.cluster.internal")
    'node1'
    """
    return fqdn_.split(".", 1)[0]
