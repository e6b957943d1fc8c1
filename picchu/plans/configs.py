"""Per-tag copies of the delivery cluster's config and the `envFrom` references to them (spec §11.7 #3–4).

Secrets and ConfigMaps selected by `target.configSelector` are copied under their own names with the tag's
labels (annotations dropped); ExternalSecrets are copied with their spec. Every container of the tag's pods
gets `envFrom` pointing at them: Secrets, then ConfigMaps (in the given order), then the target Secrets of
the ExternalSecrets.

Two tags sharing a config name share one object (§17 #35): `plan.py` keeps the newest tag's copy.
Neighbours: `workloads.py` (consumes `env_from`), `labels.py`.
"""

from __future__ import annotations

from typing import Any

from picchu.plans import labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput, TagInput
from picchu.plans.wire import Manifest, plain

EXTERNAL_SECRETS_API = "external-secrets.io/v1"


def render_configs(inputs: AppInput, tag: TagInput) -> list[Manifest]:
    tag_labels = labels.tag_labels(inputs, tag.tag)
    rendered: list[Manifest] = []
    for config in tag.configs:
        body: dict[str, Any] = {"data": dict(config.data)}
        if config.kind == "Secret":
            body["type"] = config.type or "Opaque"
        rendered.append(new_object("v1", config.kind, config.name, inputs.namespace, tag_labels, **body))
    for external in tag.external_secrets:
        rendered.append(
            new_object(
                EXTERNAL_SECRETS_API, "ExternalSecret", external.name, inputs.namespace, tag_labels,
                spec=plain(external.spec),
            )
        )  # fmt: skip
    return rendered


def env_from(tag: TagInput) -> list[dict[str, Any]]:
    """The `envFrom` list every container of the tag gets."""
    refs: list[dict[str, Any]] = []
    for config in tag.configs:
        key = "secretRef" if config.kind == "Secret" else "configMapRef"
        refs.append({key: {"name": config.name}})
    for external in tag.external_secrets:
        target = (plain(external.spec) or {}).get("target") or {}
        refs.append({"secretRef": {"name": str(target.get("name") or external.name)}})
    return refs
