"""Ambari's query predicates, compiled and evaluated on resource documents.

The grammar follows Ambari's API reference (ambari-server/docs/api/v1/index.md, "Query
Predicates"): relational ``= != < <= > >=``, the functions ``.in(a,b)``, ``.isEmpty()`` and
``.matches(regex)``, logical ``!`` / ``&`` / ``|`` (in that order of precedence, ``|``
lowest) and brackets. A property is a path such as ``Hosts/host_name`` into the document.

Pure: text in, a callable over documents out; a bad predicate raises PredicateError with the
reason, which the server reports as Ambari does (400 ``Unable to compile query predicate``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

Predicate = Callable[[Mapping[str, Any]], bool]

_RELATIONS: Final = ("<=", ">=", "!=", "=", "<", ">")
_TOKEN: Final = re.compile(
    r"[^()&|!]*?\.(?:in|matches)\([^)]*\)|[^()&|!]*?\.isEmpty\(\)|\(|\)|&|\||!(?!=)|[^()&|]+"
)


class PredicateError(ValueError):
    """The query text is not a predicate Ambari would compile."""


def lookup(doc: Mapping[str, Any], path: str) -> Any:
    """The value at ``Category/sub/property`` in ``doc``, or None when absent."""
    value: Any = doc
    for part in path.split("/"):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _compare(value: Any, op: str, operand: str) -> bool:
    if value is None:
        return op == "!="
    if isinstance(value, bool):
        value = str(value).lower()
    left, right = _number(value), _number(operand)
    if left is not None and right is not None:
        a: Any = left
        b: Any = right
    else:
        a, b = str(value), operand
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _relational(prop: str, op: str, operand: str) -> Predicate:
    return lambda doc: _compare(lookup(doc, prop), op, operand)


def _relation(text: str, properties: list[str]) -> Predicate:
    """One relational expression or operator function."""
    if text.endswith(".isEmpty()"):
        prop = text[: -len(".isEmpty()")]
        properties.append(prop)
        return lambda doc: not lookup(doc, prop)
    match = re.fullmatch(r"(?P<prop>[^.]+(?:\.[^.(]+)*)\.(?P<fn>in|matches)\((?P<args>.*)\)", text)
    if match:
        prop, args = match["prop"], match["args"]
        properties.append(prop)
        if match["fn"] == "in":
            values = [a.strip() for a in args.split(",")]
            return lambda doc: any(_compare(lookup(doc, prop), "=", v) for v in values)
        try:
            pattern = re.compile(args)
        except re.error as exc:
            raise PredicateError(f"invalid regular expression {args!r}: {exc}") from None
        return lambda doc: pattern.fullmatch(str(lookup(doc, prop) or "")) is not None
    for op in _RELATIONS:
        left, found, right = text.partition(op)
        if found:
            if not left or "=" in right or "<" in right or ">" in right:
                break
            properties.append(left)
            return _relational(left, op, right)
    raise PredicateError(f"Invalid expression '{text}'")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = [t for t in _TOKEN.findall(text) if t.strip()]
        self.at = 0
        self.properties: list[str] = []

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise PredicateError("unexpected end of the query")
        self.at += 1
        return token

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise PredicateError(f"unexpected '{self._peek()}'")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek() == "|":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda d: any(p(d) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._peek() == "&":
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else lambda d: all(p(d) for p in parts)

    def _not(self) -> Predicate:
        if self._peek() == "!":
            self._take()
            inner = self._not()
            return lambda d: not inner(d)
        token = self._take()
        if token == "(":  # noqa: S105 - a bracket, not a secret
            inner = self._or()
            if self._take() != ")":
                raise PredicateError("missing closing bracket")
            return inner
        if token in ("&", "|", ")"):
            raise PredicateError(f"unexpected '{token}'")
        return _relation(token.strip(), self.properties)


def compile_predicate(text: str) -> tuple[Predicate, tuple[str, ...]]:
    """The predicate and the property paths it reads.

    >>> p, props = compile_predicate("Hosts/host_name.in(a,b)&Hosts/cpu_count>=2")
    >>> p({"Hosts": {"host_name": "b", "cpu_count": 4}}), props
    (True, ('Hosts/host_name', 'Hosts/cpu_count'))
    >>> compile_predicate("(a=1|a=2)&!b=3")[0]({"a": 2, "b": 3})
    False
    """
    parser = _Parser(text)
    if not parser.tokens:
        raise PredicateError("empty predicate")
    return parser.parse(), tuple(parser.properties)
