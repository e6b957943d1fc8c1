"""The API server and the model agree: whatever the CRD rejects, the model rejects too.

Generated Revisions are sent to a real kube-apiserver with server-side dry run (no webhook). If the server
rejected something the model accepts, our CRD would refuse a manifest the operator could run: a compatibility
bug. The converse (model-only rules) is allowed and listed in `picchu.api.v1alpha1.validation`.

One deliberate leniency: a port without `mode` is required by Picchu's CRD but defaulted to `private` by the
model (Go test fixtures and builders omit it); such rejections are not counted as disagreements.
"""

from __future__ import annotations

import json
from typing import Any

from api_samples import all_manifests, manifest
from api_strategies import json_values, paths, replaced, targets
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kubernetes import client

from picchu.api.v1alpha1 import KINDS, InvalidSpec, load, load_revision, to_wire
from picchu.keys import GROUP, VERSION


def only_missing_port_mode(body: str) -> bool:
    """The server's only complaint is a missing `ports[].mode` (which the model deliberately defaults)."""
    causes = [
        cause
        for cause in json.loads(body).get("details", {}).get("causes", [])
        if cause.get("field") != "<nil>"
    ]
    return bool(causes) and all(
        cause.get("reason") == "FieldValueRequired" and str(cause.get("field", "")).endswith(".mode")
        for cause in causes
    )


def server_accepts(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> tuple[bool, str]:
    custom = client.CustomObjectsApi(api)
    try:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "revisions", body, dry_run="All", field_validation="Strict"
        )
    except client.ApiException as error:
        if error.status in (400, 422):
            return False, str(error.body)
        raise
    return True, ""


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=targets.map(lambda target: [target]))
def test_every_revision_the_model_accepts_is_accepted_by_the_api_server_also_once_defaulted(
    api_clients: dict[str, client.ApiClient], namespace: str, generated: list[dict[str, Any]]
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Revision",
        "metadata": {"name": "generated", "namespace": namespace},
        "spec": {
            "app": {"name": "a", "ref": "r", "tag": "t", "image": "i"},
            "failed": False,
            "targets": generated,
        },
    }
    accepted, reason = server_accepts(api_clients["delivery"], namespace, body)
    event("accepted by the API server" if accepted else "rejected by the API server")
    try:
        loaded = load_revision(body)
    except InvalidSpec:
        return
    assert accepted, f"the API server rejected a Revision the model accepts: {reason}\n{body}"
    # What the operator would write back (defaults and webhook mutations applied) is accepted as well.
    defaulted_accepted, reason = server_accepts(api_clients["delivery"], namespace, to_wire(loaded))
    assert defaulted_accepted, f"the API server rejects the defaulted Revision: {reason}"


MODELS = {kind.KIND: kind for kind in KINDS}
SAMPLES = {name: manifest(name) for name in all_manifests()}
SPEC_PATHS = [(name, path) for name, sample in SAMPLES.items() for path in paths(sample) if path[0] == "spec"]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(choice=st.sampled_from(SPEC_PATHS), value=json_values)
def test_any_spec_field_of_any_kind_the_api_server_rejects_is_rejected_by_the_model_too(
    api_clients: dict[str, client.ApiClient], namespace: str, choice: tuple[str, tuple[Any, ...]], value: Any
) -> None:
    name, path = choice
    body = replaced(SAMPLES[name], path, value)
    body["metadata"]["namespace"] = namespace
    plural = MODELS[body["kind"]].PLURAL
    custom = client.CustomObjectsApi(api_clients["delivery"])
    try:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, body, dry_run="All", field_validation="Strict"
        )
    except client.ApiException as error:
        if error.status not in (400, 422):
            raise
        if only_missing_port_mode(error.body):
            event("rejected only for a missing port mode")
            return
        event("rejected by the API server")
        try:
            load(body)
        except InvalidSpec:
            return
        raise AssertionError(
            f"the API server rejected what the model accepts: {error.body}\n{body}"
        ) from None
    event("accepted by the API server")
