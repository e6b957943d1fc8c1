"""A new Revision as users apply it (no labels): its pass labels it (§6.2) and wakes its ReleaseManagers at once,
so the rollout starts without waiting for the watch to echo the label write."""

from __future__ import annotations

from datetime import UTC, datetime

from picchu import keys
from picchu.engine.revision import reconcile_revision
from picchu.testing.builders import revision_manifest


def test_labelling_a_new_revision_wakes_the_release_manager_of_each_of_its_targets(ctx, delivery):
    manifest = revision_manifest("shop", "v7", namespace=delivery.namespace, committed=datetime.now(UTC))
    manifest["spec"]["targets"].append({**manifest["spec"]["targets"][0], "name": "staging", "fleet": "staging"})
    delivery.create(manifest)
    woken: list[tuple[str, str]] = []
    ctx.wake_release_manager = lambda namespace, name: woken.append((namespace, name))

    assert reconcile_revision(ctx, delivery.namespace, "shop-v7") == 0.0  # labelled; rerun on the fresh object

    labels = delivery.get("Revision", "shop-v7")["metadata"]["labels"]
    assert labels[keys.LABEL_APP] == "shop"
    assert {keys.fleet_label("production"), keys.fleet_label("staging")} <= labels.keys()
    assert sorted(woken) == [(delivery.namespace, "shop-production"), (delivery.namespace, "shop-staging")]
    # the ReleaseManager pass reads the Revision by its new labels, from the same delivery client
    found = ctx.delivery.list("Revision", delivery.namespace, {keys.LABEL_APP: "shop",
                                                               keys.fleet_label("staging"): ""})
    assert [r["metadata"]["name"] for r in found] == ["shop-v7"]
