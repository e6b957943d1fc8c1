"""Which watch events wake ReleaseManagers: spec and label changes do (labels choose the Revisions a
ReleaseManager reads), status writes do not."""

from __future__ import annotations

from typing import Any

import kopf

from picchu.handlers.operator import SpecChanges


def body(generation: int, labels: dict[str, str] | None = None, status: dict[str, Any] | None = None) -> kopf.Body:
    return kopf.Body({"kind": "Revision", "metadata": {"namespace": "ns", "name": "r", "generation": generation,
                                                       "labels": labels or {}}, "status": status or {}})


def test_labels_and_spec_wake_status_does_not() -> None:
    changes = SpecChanges()
    assert changes.spec_changed(body(1), "ADDED")
    assert not changes.spec_changed(body(1, status={"state": "x"}), "MODIFIED")
    assert changes.spec_changed(body(1, {"fleet.picchu.medium.engineering/production": ""}), "MODIFIED")
    assert not changes.spec_changed(body(1, {"fleet.picchu.medium.engineering/production": ""}), "MODIFIED")
    assert changes.spec_changed(body(2, {"fleet.picchu.medium.engineering/production": ""}), "MODIFIED")
    assert changes.spec_changed(body(2), "DELETED")
