"""A wrapper that keeps secrets out of reprs, logs and error messages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cloudagent.errors import CloudagentError

MASK: Final = "********"


class Secret:
    """A secret string; ``str()`` and ``repr()`` show a mask, ``reveal()`` the value.

    >>> s = Secret("hunter2")
    >>> f"{s}", repr(s), s.reveal()
    ('********', 'Secret(********)', 'hunter2')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for handing it to the program that needs it."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask(text: str, secrets: list[Secret | None]) -> str:
    """Replace every occurrence of each secret's value in ``text`` with the mask.

    >>> mask("key=abc and abc", [Secret("abc"), None])
    'key=******** and ********'
    """
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), MASK)
    return text


def read_secret_file(path: Path) -> str:
    """Read a secret from a file, stripping one trailing newline; refuses group/world access."""
    mode = path.stat().st_mode & 0o077
    if mode:
        raise PermissionError(
            f"{path} is readable by group or others (mode {path.stat().st_mode & 0o777:04o}); "
            f"run: chmod 600 {path}"
        )
    return path.read_text(encoding="utf-8").removesuffix("\n")


def from_env(env: Mapping[str, str], name: str) -> str | None:
    """The secret ``NAME``, or the contents of the file ``NAME_FILE`` (which must be 0600)."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return read_secret_file(Path(path))
        except OSError as exc:
            raise CloudagentError(f"{name}_FILE: {exc}") from exc
    return env.get(name) or None
