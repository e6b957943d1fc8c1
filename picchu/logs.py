"""JSON log lines with the fields operators filter on (app, target, tag, cluster).

One line per record: `{"ts", "level", "logger", "msg", ...extra}`; warnings and uncaught exceptions (main or
worker threads) go through the same formatter, so every line of the process is JSON. Pass context with
`log.info("...", extra=fields(app=..., target=...))`; credentials never go through here.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("app", "target", "tag", "cluster", "percent", "kind", "object", "namespace", "state", "reason")


def fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


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
