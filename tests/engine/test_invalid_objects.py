"""Objects no pass can act on are reported once and then parked (growing back-off) until someone edits them.

Why: the reliability suite's hostile input (thousands of objects with unicode, 253-character names, app names
no namespace accepts) made every pass of such objects fail at the apiserver with HTTP 400 and retry forever,
keeping workers from the valid apps. Against the real delivery apiserver: the objects are accepted there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from picchu.engine.context import EngineContext
from picchu.engine.release_manager import reconcile_release_manager
from picchu.engine.revision import reconcile_revision
from picchu.outcome import Park
from picchu.testing.builders import revision_manifest
from tests.engine.conftest import Delivery, run_pass


def test_a_revision_whose_app_name_no_namespace_accepts_is_invalid_and_waits_for_an_edit(
        delivery: Delivery, ctx: EngineContext) -> None:
    manifest = revision_manifest("echo", "v1", namespace=delivery.namespace, committed=datetime.now(UTC))
    manifest["metadata"]["name"] = "unicode-app"
    manifest["spec"]["app"]["name"] = "ünïcødé-🚀"
    delivery.create(manifest)
    delay = run_pass(reconcile_revision, ctx, delivery.namespace, "unicode-app")
    assert isinstance(delay, Park) and delay.reason == "InvalidSpec", "parked until someone edits it"
    obj = delivery.get("Revision", "unicode-app")
    assert obj is not None
    [valid] = [c for c in obj["status"]["conditions"] if c["type"] == "Valid"]
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec" and "spec.app.name" in valid["message"]
    assert any(e.reason == "InvalidSpec" for e in delivery.events("unicode-app"))


def test_a_hand_written_release_manager_with_a_garbage_app_is_reported_not_failed(
        delivery: Delivery, ctx: EngineContext) -> None:
    delivery.create({"apiVersion": "picchu.medium.engineering/v1alpha1", "kind": "ReleaseManager",
                     "metadata": {"name": "garbage-production"},
                     "spec": {"fleet": "x" * 300, "app": "日本語", "target": "production"}})
    delay = reconcile_release_manager(ctx, delivery.namespace, "garbage-production")
    assert isinstance(delay, Park) and delay.reason == "InvalidSpec", "parked until someone edits it"
    obj = delivery.get("ReleaseManager", "garbage-production")
    assert obj is not None
    [progressing] = [c for c in obj["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing["reason"] == "InvalidSpec" and "spec.app" in progressing["message"]
