"""A pass whose plan inputs did not change renders nothing (issue 16's idle CPU), and anything that could
change a plan still does: a changed input renders that cluster's plan again, an expired memory of the writes
renders and checks every object (so a hand edit is healed as before). Passes are called one by one against
the real control plane, with real Pods."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.engine.context import EngineContext
from picchu.engine.rendering import PlanInput
from picchu.testing.controlplane import ControlPlane
from tests.engine.conftest import App, Delivery


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cluster of every plan rendered from now on."""
    seen: list[str] = []
    render = PlanInput.render

    def counting(self: PlanInput) -> Any:
        seen.append(self.cluster.name)
        return render(self)

    monkeypatch.setattr(PlanInput, "render", counting)
    return seen


def test_unchanged_inputs_render_nothing_a_changed_input_renders_its_cluster_and_an_expired_memory_heals(
        control_plane: ControlPlane, ctx: EngineContext, delivery: Delivery,
        api_clients: dict[str, client.ApiClient], pods_ready: None, rendered: list[str]) -> None:
    delivery.register("a")
    cluster_b = delivery.register("b")
    app = App(ctx, delivery, api_clients)
    app.revision("v1")
    app.drive(lambda: app.entry("v1").get("state", {}).get("current") == "released", "v1 released")
    quiet = 0
    for _ in range(10):  # the last state changes of the release may still render; then nothing does
        rendered.clear()
        app.rm_pass()
        quiet = quiet + 1 if not rendered else 0
        if quiet == 3:
            break
    assert quiet == 3, f"passes over an unchanged world kept rendering: {rendered}"

    ingresses = delivery.get("Cluster", cluster_b)["spec"]["ingresses"]  # type: ignore[index]
    ingresses["private"]["defaultDomains"].append("b.example.org")
    delivery.custom.patch_namespaced_custom_object(keys.GROUP, keys.VERSION, delivery.namespace, "clusters",
                                                   cluster_b, {"spec": {"ingresses": ingresses}})
    rendered.clear()
    app.rm_pass()
    assert rendered == ["b"], "only the cluster whose input changed is rendered"
    vs = client.CustomObjectsApi(api_clients["b"]).get_namespaced_custom_object(
        "networking.istio.io", "v1alpha3", app.rm, "virtualservices", app.name)
    assert any(host.endswith("b.example.org") for host in vs["spec"]["hosts"]), vs["spec"]["hosts"]

    routes = client.CustomObjectsApi(api_clients["a"])
    routes.patch_namespaced_custom_object("networking.istio.io", "v1alpha3", app.rm, "virtualservices", app.name,
                                          {"spec": {"hosts": ["edited-by-hand"]}})
    rendered.clear()
    app.rm_pass()
    assert rendered == [], "a hand edit waits for the memory of the write to expire, as before"
    ctx.applier.remember_for = 0  # every memory of a write has expired
    app.rm_pass()
    assert sorted(rendered) == ["a", "b"]
    healed = routes.get_namespaced_custom_object("networking.istio.io", "v1alpha3", app.rm, "virtualservices",
                                                 app.name)
    assert "edited-by-hand" not in healed["spec"]["hosts"], "the expired memory is checked and the edit healed"
