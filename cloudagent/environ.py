"""Reading settings from environment variables, every problem gathered instead of the first.

One :class:`Collector` reads a whole configuration: the agent's :class:`~cloudagent.config.Config`
and the Ambari settings are collected through the same one, so ``validate-config`` and ``run``
report every problem of both at once, each on its own line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, TypeVar

from cloudagent.errors import ConfigError
from cloudagent.secret import Secret, read_secret, read_secret_file

_T = TypeVar("_T")
_ON: Final = ("on", "1", "true", "yes")
_OFF: Final = ("off", "0", "false", "no")


class Collector:
    """Reads variables from one mapping and gathers every problem.

    Each reader returns a usable value even when the variable is wrong (its default), so a
    whole configuration can be read before :meth:`finish` raises one ConfigError listing all.
    An unset or blank variable counts as unset everywhere.
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        read_file: Callable[[Path], str] = read_secret_file,
    ) -> None:
        self.environ = environ
        self.read_file = read_file
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        """Record one problem: one line saying what is wrong and what to do."""
        self.problems.append(text)

    def get(self, name: str) -> str | None:
        """The variable without surrounding blanks; None when unset or blank."""
        value = self.environ.get(name)
        return value.strip() if value is not None and value.strip() else None

    def parse(self, name: str, default: _T, parser: Callable[[str], _T]) -> _T:
        """``parser(value)``, or ``default`` when unset; a ValueError becomes a problem."""
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return parser(raw)
        except ValueError as exc:
            self.problem(f"{name}: {exc}")
            return default

    def number(
        self,
        name: str,
        default: float,
        *,
        low: float,
        high: float,
        low_open: bool = False,
        parser: Callable[[str], float] = float,
        unit: str = "",
    ) -> float:
        """A finite number within ``[low, high]`` (``(low, high]`` with ``low_open``)."""
        value = self.parse(name, default, parser)
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bound = "above" if low_open else "at least"
            self.problem(
                f"{name}: {self.get(name)!r} is out of range; "
                f"use a number {bound} {low:g}{unit} and at most {high:g}{unit}"
            )
            return default
        return value

    def count(self, name: str, default: int, *, low: int, high: int) -> int:
        """A whole number within ``[low, high]``."""

        def whole(text: str) -> int:
            if not text.isdigit():
                raise ValueError(f"{text!r} is not a whole number")
            return int(text)

        value = self.parse(name, default, whole)
        if not low <= value <= high:
            self.problem(f"{name}: {value} is out of range; use {low} to {high}")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        """``on``/``off`` (also 1/0, true/false, yes/no)."""

        def parse(text: str) -> bool:
            if text.lower() in _ON:
                return True
            if text.lower() in _OFF:
                return False
            raise ValueError(f"{text!r}: use on or off")

        return self.parse(name, default, parse)

    def secret(self, name: str, check: Callable[[str], Secret] = Secret) -> Secret | None:
        """``NAME`` or ``NAME_FILE`` by the rules of :func:`cloudagent.secret.read_secret`,
        then ``check``; a problem never echoes the value."""
        try:
            found = read_secret(self.environ, name, self.read_file)
        except ConfigError as exc:
            self.problems += exc.problems
            return None
        if found is None:
            return None
        try:
            return check(found.reveal())
        except ValueError as exc:
            self.problem(f"{name}: {exc}")
            return None

    def finish(self) -> None:
        """Raise one ConfigError listing every problem recorded, if any."""
        if self.problems:
            raise ConfigError(self.problems)
