"""JSON log lines with the fields operators filter on (app, target, tag, cluster).

One line per record: `{"ts", "level", "logger", "msg", ...extra}` (python-json-logger, which kopf already
installs); warnings and uncaught exceptions (main or worker threads) go through the same formatter, so every
line of the process is JSON. Pass context with
`log.info("...", extra=fields(app=..., target=...))`; credentials never go through here.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger import json


def fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class JsonFormatter(json.JsonFormatter):
    """python-json-logger's formatter with our field names: `ts` (UTC, milliseconds), `level` (lower case),
    `logger`, `msg`, every `extra=` field (app, target, tag, cluster, percent, ...), `error` for a traceback."""

    def __init__(self) -> None:
        super().__init__(["levelname", "name", "message"], rename_fields={
            "levelname": "level", "name": "logger", "message": "msg", "exc_info": "error"}, json_default=str)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
        log_data["level"] = record.levelname.lower()


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings become JSON lines too
    crash = logging.getLogger("picchu.crash")
    sys.excepthook = lambda kind, value, tb: crash.critical("uncaught exception", exc_info=(kind, value, tb))
    threading.excepthook = lambda args: crash.error(
        "uncaught exception in thread %s", args.thread.name if args.thread else "?", exc_info=args.exc_value,
    )
    for noisy in ("kubernetes", "urllib3", "aiohttp.access", "kopf.objects", "kopf.activities", "leaderelection"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
