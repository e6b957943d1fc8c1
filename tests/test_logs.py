"""Operator log lines are one JSON object each, with the fields people filter on."""

from __future__ import annotations

import json
import logging

from picchu.logs import JsonFormatter, fields


def _line(record: logging.LogRecord) -> dict[str, object]:
    return dict(json.loads(JsonFormatter().format(record)))


def test_a_line_has_time_level_logger_message_and_every_context_field() -> None:
    record = logging.LogRecord("picchu.engine", logging.INFO, __file__, 1, "v2 on %s: traffic 10%% -> 20%%",
                               ("production",), None)
    for key, value in fields(app="echo", target="production", tag="v2", percent=20, cluster=None).items():
        setattr(record, key, value)
    line = _line(record)
    assert line["level"] == "info" and line["logger"] == "picchu.engine"
    assert line["msg"] == "v2 on production: traffic 10% -> 20%"
    assert (line["app"], line["target"], line["tag"], line["percent"]) == ("echo", "production", "v2", 20)
    assert "cluster" not in line  # None fields are left out by fields()
    assert str(line["ts"]).endswith("+00:00") and "." in str(line["ts"])


def test_a_traceback_is_one_field_of_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("picchu", logging.ERROR, __file__, 1, "pass failed", (), sys.exc_info())
    line = _line(record)
    assert line["level"] == "error" and "RuntimeError: boom" in str(line["error"])
