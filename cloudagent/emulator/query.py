"""Query strings as Ambari reads them: predicates, partial response, paging and sorting.

Facts (ambari-server/docs/api/v1/index.md "Partial Response" and "Query Predicates";
api/services/BaseRequest.java): the URI is URL-decoded as a whole; every query parameter
that is not a reserved one (``fields``, ``page_size``, ``from``, ``to``, ``sortBy``,
``format``, ...) is part of the predicate, ``&`` being the logical AND; a predicate that
does not compile is a 400 ``Unable to compile query predicate: ...``; a collection without
``fields`` shows only the key properties of its items; ``fields`` selects categories,
properties and sub-resources (``a/b/c``, ``*``, ``sub/*`` expands sub-resources one level),
key properties are always kept; paging starts when any of ``page_size`` (default 20),
``from`` (an offset or ``start``) or ``to`` (an offset or ``end``) is given.

Pure apart from ``resolve``, the callback that reads a sub-resource for expansion.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote_plus

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator.predicate import Predicate, PredicateError, compile_predicate, lookup

RESERVED: Final = frozenset({
    "fields", "page_size", "from", "to", "sortBy", "format", "_", "minimal_response",
    "validate_topology", "callback",
})  # fmt: skip
DEFAULT_PAGE_SIZE: Final = 20  # BaseRequest.DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class Resource:
    """A full resource document, its type name (for messages) and its key property paths."""

    type: str
    doc: dict[str, Any]
    keys: tuple[str, ...]


Resolve = Callable[[str], Resource]


@dataclass(frozen=True)
class Query:
    """A parsed query string."""

    raw: str = ""
    predicate: Predicate | None = None
    properties: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str = "") -> str:
        """A reserved parameter's value."""
        return self.params.get(name, default)


def parse_query(raw: str) -> Query:
    """Split the query string into the predicate and the reserved parameters.

    >>> q = parse_query("Hosts/host_status=HEALTHY&fields=Hosts/ip,Hosts/cpu_count&page_size=5")
    >>> q.fields, q.properties, q.param("page_size")
    (('Hosts/ip', 'Hosts/cpu_count'), ('Hosts/host_status',), '5')
    """
    text = unquote_plus(raw)
    params: dict[str, str] = {}
    terms: list[str] = []
    for term in text.split("&") if text else []:
        name, eq, value = term.partition("=")
        if eq and name in RESERVED:
            params[name] = value
        elif term:
            terms.append(term)
    predicate = None
    properties: tuple[str, ...] = ()
    if terms:
        try:
            predicate, properties = compile_predicate("&".join(terms))
        except PredicateError as exc:
            raise Rejection(400, f"Unable to compile query predicate: {exc}") from None
    fields = tuple(f.strip() for f in params.get("fields", "").split(",") if f.strip())
    return Query(text, predicate, properties, fields, params)


def _categories(resources: list[Resource], keys: tuple[str, ...]) -> set[str]:
    names = {k.split("/", 1)[0] for k in keys}
    for resource in resources:
        names.update(resource.doc)
    return names


def _check_properties(
    query: Query, resources: list[Resource], kind: str, keys: tuple[str, ...]
) -> None:
    known = _categories(resources, keys)
    unknown = sorted({p for p in query.properties if p.split("/", 1)[0] not in known})
    if unknown:
        raise Rejection(
            400,
            f"The properties [{', '.join(unknown)}] specified in the request or predicate are "
            f"not supported for the resource type {kind}.",
        )


def _page(items: list[Resource], query: Query) -> list[Resource]:
    size_text, start, end = query.param("page_size"), query.param("from"), query.param("to")
    if not (size_text or start or end):
        return items
    try:
        size = int(size_text) if size_text else DEFAULT_PAGE_SIZE
        if start:
            offset = 0 if start == "start" else int(start)
            return items[offset : offset + size]
        if end and end != "end":
            last = int(end)
            return items[max(0, last - size + 1) : last + 1]
    except ValueError:
        raise Rejection(400, "Invalid paging parameter: page_size, from and to take numbers "
                        "(from=start and to=end also)") from None  # fmt: skip
    return items[-size:] if end == "end" else items[:size]


def _sort_key(path: str) -> Callable[[Resource], tuple[bool, str]]:
    return lambda r: (lookup(r.doc, path) is None, str(lookup(r.doc, path)))


def _sort(items: list[Resource], query: Query) -> list[Resource]:
    spec = query.param("sortBy")
    for term in reversed([t for t in spec.split(",") if t]):
        path, _, order = (
            term.rpartition(".") if term.endswith((".asc", ".desc")) else (term, "", "")
        )
        items = sorted(items, key=_sort_key(path), reverse=order == "desc")
    return items


def _set_path(out: dict[str, Any], parts: list[str], value: Any) -> None:
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        node[last].update(copy.deepcopy(value))
    else:
        node[last] = copy.deepcopy(value)


def _is_subresource(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and "href" in v for v in value)


def project(
    resource: Resource, fields: tuple[str, ...], resolve: Resolve, *, item: bool = False
) -> dict[str, Any]:
    """The resource as ``fields`` selects it; no fields: everything, or keys for an item."""
    doc = resource.doc
    if not fields and not item:
        return copy.deepcopy(doc)
    out: dict[str, Any] = {"href": doc["href"]}
    for key in resource.keys:
        value = lookup(doc, key)
        if value is not None:
            _set_path(out, key.split("/"), value)
    wanted: dict[str, list[str]] = {}
    for path in fields:
        head, _, rest = path.partition("/")
        if head == "*":
            for name in doc:
                wanted.setdefault(name, []).append("")
        else:
            wanted.setdefault(head, []).append(rest)
    for head, rests in wanted.items():
        if head not in doc or head == "href":
            continue
        value = doc[head]
        if _is_subresource(value) and value and isinstance(value, list):
            deeper = tuple(r for r in rests if r)
            if not deeper:
                out[head] = copy.deepcopy(value)
                continue
            expand = tuple("*" if r == "*" else r for r in deeper)
            out[head] = [project(resolve(ref["href"]), expand, resolve) for ref in value]
        elif isinstance(value, dict) and "" not in rests and "*" not in rests:
            for rest in rests:
                found = lookup(value, rest)
                if found is not None:
                    _set_path(out, [head, *rest.split("/")], found)
        else:
            _set_path(out, [head], value)
    return out


def collection(
    href: str,
    resources: list[Resource],
    query: Query,
    resolve: Resolve,
    *,
    kind: str,
    keys: tuple[str, ...],
) -> dict[str, Any]:
    """A collection response: filtered, sorted, paged, each item projected."""
    _check_properties(query, resources, kind, keys)
    selected = [r for r in resources if query.predicate is None or query.predicate(r.doc)]
    page = _page(_sort(selected, query), query)
    return {
        "href": f"{href}?{query.raw}" if query.raw else href,
        "items": [project(r, query.fields, resolve, item=True) for r in page],
    }


def instance(resource: Resource, query: Query, resolve: Resolve) -> dict[str, Any]:
    """A single resource's response; its href carries the query string as Ambari's do."""
    out = project(resource, query.fields, resolve)
    if query.raw:
        out["href"] = f"{resource.doc['href']}?{query.raw}"
    return out
