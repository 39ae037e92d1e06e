"""A wrapper that keeps secrets out of reprs, logs and error messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from cloudagent.errors import ConfigError

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
    """A secret file's text with one trailing newline stripped.

    Raises PermissionError when group or others may read or write the file (the secret would
    not be secret), and OSError when it cannot be read at all.
    """
    status = path.stat()
    if status.st_mode & 0o077:
        raise PermissionError(
            f"{path} is open to group or others (mode {status.st_mode & 0o777:04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OSError(f"{path} is not UTF-8 text") from None
    return text.removesuffix("\n")


def read_secret(
    env: Mapping[str, str], name: str, read_file: Callable[[Path], str] = read_secret_file
) -> Secret | None:
    """The secret ``NAME`` from the environment, or from the file that ``NAME_FILE`` names.

    The rules, the same for every secret cloudagent reads:

    - set one of ``NAME`` and ``NAME_FILE``, not both;
    - a file must be mode 0600 or stricter, and one trailing newline is stripped
      (``echo secret > file`` writes one); nothing else is changed;
    - an empty ``NAME`` or ``NAME_FILE`` counts as unset (``docker run -e NAME=`` passes an
      empty value); a file that is empty is an error: it names a secret that is not there.

    Raises ConfigError with one line naming the variable; the value is never in it.

    >>> read_secret({"X": "v"}, "X"), read_secret({"X": ""}, "X")
    (Secret(********), None)
    """
    value, path = env.get(name) or None, env.get(f"{name}_FILE") or None
    if value is not None and path is not None:
        raise ConfigError([f"{name} and {name}_FILE are both set; keep one"])
    if path is None:
        return None if value is None else Secret(value)
    try:
        value = read_file(Path(path))
    except OSError as exc:
        raise ConfigError([f"{name}_FILE: cannot read {path}: {exc.strerror or exc}"]) from None
    if not value:
        raise ConfigError(
            [f"{name}_FILE: {path} is empty; put the secret in it or unset {name}_FILE"]
        )
    return Secret(value)
