"""ClusterSecrets selector strings are checked with Kubernetes' selector grammar before they are used."""

from __future__ import annotations

import pytest
from api_samples import manifest

from picchu.api.v1alpha1 import load_cluster_secrets
from picchu.api.v1alpha1.selectors import field_selector_error, label_selector_error
from picchu.api.v1alpha1.validation import InvalidSpec


@pytest.mark.parametrize(
    "selector",
    [
        "",
        "app=web",
        "app==web",
        "app=web,tier!=db",
        "env in (a, b),!legacy",
        "env notin (a)",
        "picchu.medium.engineering/app=echo",
        "managed",
        "replicas>3",
        "app=",
    ],
)
def test_kubernetes_label_selectors_are_accepted(selector: str) -> None:
    assert label_selector_error(selector) is None


@pytest.mark.parametrize(
    "selector", ["app in web", "app=web=x", "=web", "env in (a b)", "app=we b", "replicas>x", "-bad=1"]
)
def test_malformed_label_selectors_are_explained(selector: str) -> None:
    problem = label_selector_error(selector)
    assert problem is not None and "label-selector syntax" in problem


@pytest.mark.parametrize("selector", ["", "metadata.name=creds", "type!=Opaque,metadata.namespace==x"])
def test_kubernetes_field_selectors_are_accepted(selector: str) -> None:
    assert field_selector_error(selector) is None


@pytest.mark.parametrize("selector", ["metadata.name", "=x", "a=b,c"])
def test_malformed_field_selectors_are_explained(selector: str) -> None:
    problem = field_selector_error(selector)
    assert problem is not None and "field-selector syntax" in problem


def test_a_cluster_secrets_object_with_valid_selectors_loads() -> None:
    obj = manifest("clustersecrets-registry-creds.yaml")
    obj["spec"]["source"]["labelSelector"] = "copy=true"
    obj["spec"]["target"]["labelSelector"] = "picchu.medium.engineering/fleet in (production, staging)"
    secrets = load_cluster_secrets(obj)
    assert secrets.spec.target.label_selector == "picchu.medium.engineering/fleet in (production, staging)"


@pytest.mark.parametrize(("section", "namespace"), [("source", "Prod"), ("target", "ns/../x"), ("source", "é"),
                                                    ("target", "n" * 64)])
def test_a_namespace_no_namespace_can_have_is_explained(section: str, namespace: str) -> None:
    obj = manifest("clustersecrets-registry-creds.yaml")
    obj["spec"][section]["namespace"] = namespace
    with pytest.raises(InvalidSpec) as problem:
        load_cluster_secrets(obj)
    assert f"spec.{section}.namespace" in str(problem.value) and "not a namespace name" in str(problem.value)
