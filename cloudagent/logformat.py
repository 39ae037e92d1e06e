"""Log output: the usual text lines, or one JSON object per line for log shippers."""

from __future__ import annotations

import json
import logging
import sys
from typing import Final

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS: Final = ("text", "json")


class JsonFormatter(logging.Formatter):
    """The fields of the text format (time, level, logger, message) as one JSON object.

    >>> record = logging.makeLogRecord({"msg": "wrote %s", "args": ("hosts",), "name": "x",
    ...     "levelname": "INFO", "created": 0.0})
    >>> json.loads(JsonFormatter().format(record))["message"]
    'wrote hosts'
    """

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def setup_logging(level: int, log_format: str = "text") -> None:
    """Configure the root logger on stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
