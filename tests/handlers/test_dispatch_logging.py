"""A failing pass logs one line (type and message) and a traceback only at DEBUG.

Why: bad objects fail their passes again and again; with thousands of them (the reliability suite's hostile
input) a traceback per failure buried the log. The pass, the metric and the Event still report each failure.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client import ApiException
from prometheus_client import CollectorRegistry

from picchu.engine import dispatch
from picchu.metrics import OperatorMetrics


class _Events:
    def __init__(self) -> None:
        self.emitted: list[tuple[Any, ...]] = []

    def emit(self, *args: Any) -> None:
        self.emitted.append(args)


def _failing(exc: Exception) -> Any:
    def reconcile(ctx: Any, namespace: str, name: str) -> float:
        raise exc
    return reconcile


@pytest.mark.parametrize(("exc", "summary"), [
    (OverflowError("cannot convert float infinity to integer"), "OverflowError: cannot convert float infinity"),
    (ApiException(status=400, reason="Bad Request"), "ApiException: HTTP 400"),
])
def test_a_failed_pass_logs_one_line_and_keeps_the_traceback_for_debug(monkeypatch, caplog, exc, summary):
    if isinstance(exc, ApiException):
        exc.body = '{"kind":"Status","message":"unable to parse requirement: found \'💥\'"}'
        summary += ": unable to parse requirement"
    monkeypatch.setitem(dispatch.PASSES, "Revision", _failing(exc))
    events = _Events()
    ctx = SimpleNamespace(metrics=OperatorMetrics.create(CollectorRegistry()), events=events)
    with caplog.at_level(logging.INFO, logger="picchu"), pytest.raises(type(exc)):
        dispatch.reconcile_key(ctx, ("Revision", "ns", "bad"))  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert summary in record.getMessage()
    assert "\n" not in record.getMessage()
    assert summary in events.emitted[0][-1]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="picchu"), pytest.raises(type(exc)):
        dispatch.reconcile_key(ctx, ("Revision", "ns", "bad"))  # type: ignore[arg-type]
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.DEBUG)
