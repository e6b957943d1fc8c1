"""The Revision pass records a failing tag's alerts in its ReleaseManager's status by writing the whole
`status.revisions` list back: only onto the version it read, so a stale read (the watch cache lags the
ReleaseManager pass's last write) never undoes that pass's traffic steps. Fakes only, no control plane."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes.client.exceptions import ApiException

from picchu.engine.revision import _record_triggered_alerts


class Delivery:
    def __init__(self, stored: dict[str, Any], live_version: str) -> None:
        self.stored, self.live_version = stored, live_version
        self.written: list[dict[str, Any]] = []

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.stored)

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any],
                     resource_version: str | None = None) -> dict[str, Any]:
        if resource_version != self.live_version:  # what the apiserver does with a resourceVersion in a patch
            raise ApiException(status=409, reason="Conflict")
        self.written.append(status)
        return {}


class Ctx:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery


def _rm(version: str, percent: int) -> dict[str, Any]:
    return {"metadata": {"name": "app-production", "resourceVersion": version},
            "status": {"revisions": [{"tag": "v2", "currentPercent": percent}]}}


def test_the_alerts_are_written_onto_the_version_that_was_read() -> None:
    delivery = Delivery(_rm("7", 40), live_version="7")
    _record_triggered_alerts(Ctx(delivery), "ns", "app-production", "v2", ["slo_burn"])  # type: ignore[arg-type]
    assert delivery.written == [{"revisions": [{"tag": "v2", "currentPercent": 40, "triggeredAlerts": ["slo_burn"]}]}]


def test_a_stale_copy_is_not_written_back_over_a_newer_status() -> None:
    delivery = Delivery(_rm("7", 40), live_version="9")  # the ReleaseManager pass stepped to 50 meanwhile
    _record_triggered_alerts(Ctx(delivery), "ns", "app-production", "v2", ["slo_burn"])  # type: ignore[arg-type]
    assert delivery.written == []
