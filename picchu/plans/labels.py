"""The label sets stamped on rendered objects (spec §2.1, §8.7).

Two families: *app* labels (ReleaseManager default labels: Service, DestinationRule, VirtualService, ...)
and *tag* labels (incarnation default labels: ReplicaSet, autoscalers, config copies, canary rules). Both
carry `app.kubernetes.io/managed-by: picchu`, which with the app label is what the applier's prune selector
matches: anything picchu-owned in scope that is not rendered gets deleted.

Neighbours: every renderer; `plan.py` builds the prune selector from `prune_selector`.
"""

from __future__ import annotations

from picchu import keys
from picchu.plans.inputs import AppInput


def managed(app: str) -> dict[str, str]:
    """The minimum every rendered object carries, so the applier can prune exactly what it owns."""
    return {keys.LABEL_APP: app, keys.LABEL_MANAGED_BY: keys.MANAGED_BY}


def owner(inputs: AppInput) -> dict[str, str]:
    """Owner labels of the namespace, service account and RBAC (§11.3 – §11.5)."""
    return {
        keys.LABEL_OWNER_TYPE: keys.OWNER_TYPE_RELEASE_MANAGER,
        keys.LABEL_OWNER_NAME: inputs.release_manager,
    }


def app_labels(inputs: AppInput) -> dict[str, str]:
    """ReleaseManager default labels (§8.7) plus the managed-by label."""
    return {
        keys.LABEL_APP: inputs.app,
        keys.LABEL_K8S_NAME: inputs.app,
        keys.LABEL_ISTIO_APP: inputs.app,
        **owner(inputs),
        keys.LABEL_MANAGED_BY: keys.MANAGED_BY,
    }


def tag_labels(inputs: AppInput, tag: str) -> dict[str, str]:
    """Incarnation default labels (§8.7) plus the managed-by label."""
    return {
        keys.LABEL_APP: inputs.app,
        keys.LABEL_TAG: tag,
        keys.LABEL_TARGET: inputs.target,
        keys.LABEL_K8S_NAME: inputs.app,
        keys.LABEL_K8S_VERSION: tag,
        keys.LABEL_ISTIO_APP: inputs.app,
        keys.LABEL_ISTIO_VERSION: tag,
        keys.LABEL_MANAGED_BY: keys.MANAGED_BY,
    }


def pod_labels(inputs: AppInput, tag: str) -> dict[str, str]:
    """Pod template labels: tag labels plus the subset label DestinationRules select on (§11.7)."""
    return {**tag_labels(inputs, tag), keys.LABEL_POD_TAG: tag}


def selector_labels(inputs: AppInput, tag: str) -> dict[str, str]:
    """ReplicaSet selector: pod labels minus `app` and `version` (§11.7)."""
    labels = pod_labels(inputs, tag)
    labels.pop(keys.LABEL_ISTIO_APP)
    labels.pop(keys.LABEL_ISTIO_VERSION)
    return labels
