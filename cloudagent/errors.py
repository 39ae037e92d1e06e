"""The exception hierarchy (every error raised on purpose derives from CloudagentError) and
the exit statuses the commands map them to."""

from enum import IntEnum


class CloudagentError(Exception):
    """Root of cloudagent's own errors; its message is meant for an operator."""


class ConfigError(CloudagentError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  " + "\n  ".join(self.problems))


class UsageError(CloudagentError):
    """A command was given options it cannot work with (exit status 2, as argparse's own)."""


class ExitStatus(IntEnum):
    """The exit status of every ``cloudagent`` command."""

    OK = 0
    FAILURE = 1  # the command ran, and what it checked or did failed
    USAGE = 2  # bad options or configuration: nothing was done
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
