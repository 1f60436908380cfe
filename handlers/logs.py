"""Structured (one JSON object per line) logging for the Lambda functions.

CloudWatch Logs Insights can filter on JSON fields, so every message that concerns a row, an
object or a worker carries them as fields instead of burying them in prose.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from handlers.settings import ENV_LOG_LEVEL


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def get_logger(name: str) -> logging.Logger:
    """A logger that writes JSON lines to stderr at the level of ``BULKQA_LOG_LEVEL``."""
    logger = logging.getLogger(name)
    if not getattr(logger, "_bulkqa_configured", False):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(os.environ.get(ENV_LOG_LEVEL, "INFO").upper())
        logger._bulkqa_configured = True  # type: ignore[attr-defined]
    return logger


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with ``fields`` as JSON keys."""
    logger.log(level, message, extra={"fields": fields})
