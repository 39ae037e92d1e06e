"""The exception hierarchy: every error raised on purpose derives from CloudagentError."""


class CloudagentError(Exception):
    """Root of cloudagent's own errors; its message is meant for an operator."""


class ConfigError(CloudagentError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  " + "\n  ".join(self.problems))
