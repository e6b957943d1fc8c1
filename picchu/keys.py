"""Every label, annotation, finalizer and field-manager name the operator reads or writes.

They live in one place because they are the wire contract with Medium's Picchu: a running Go Picchu can be
replaced by this operator only if every key below is byte-for-byte the same (spec §2).
"""

from __future__ import annotations

GROUP = "picchu.medium.engineering"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Labels (§2.1)
LABEL_APP = "picchu.medium.engineering/app"
LABEL_TAG = "picchu.medium.engineering/tag"
LABEL_TARGET = "picchu.medium.engineering/target"
LABEL_FLEET = "picchu.medium.engineering/fleet"
LABEL_FLEET_PREFIX = "fleet.picchu.medium.engineering/"
LABEL_TARGET_DELETABLE_PREFIX = "target-deletable.picchu.medium.engineering/"
LABEL_OWNER_NAME = "picchu.medium.engineering/ownerName"
LABEL_OWNER_TYPE = "picchu.medium.engineering/ownerType"
OWNER_TYPE_RELEASE_MANAGER = "releasemanager"
LABEL_ISTIO_APP = "app"
LABEL_ISTIO_VERSION = "version"
LABEL_K8S_NAME = "app.kubernetes.io/name"
LABEL_K8S_VERSION = "app.kubernetes.io/version"
LABEL_RULE_TYPE = "picchu.medium.engineering/ruleType"
RULE_TYPE_SLO = "slo"
RULE_TYPE_CANARY = "canary"
LABEL_IGNORE = "picchu.medium.engineering/ignore"
LABEL_POD_TAG = "tag.picchu.medium.engineering"
LABEL_PROMETHEUS_SCRAPE = "prometheus.io/scrape"
LABEL_ISTIO_INJECTION = "istio-injection"
LABEL_ISTIO_DATAPLANE_MODE = "istio.io/dataplane-mode"
LABEL_ISTIO_USE_WAYPOINT = "istio.io/use-waypoint"
LABEL_ISTIO_WAYPOINT_FOR = "istio.io/waypoint-for"
# Picchu marks nothing as "managed"; we add this label to every object we write so the applier can prune
# exactly what it owns and nothing else.
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "picchu"

# Annotations (§2.2)
ANNOTATION_GIT_COMMIT_TIMESTAMP = "git-scm.com/committer-timestamp"
ANNOTATION_FAILED_AT = "picchu.medium.engineering/failed-at-timestamp"
ANNOTATION_AUTOSCALER = "picchu.medium.engineering/autoscaler"
ANNOTATION_IAM_ROLE = "iam.amazonaws.com/role"
ANNOTATION_EKS_ROLE_ARN = "eks.amazonaws.com/role-arn"
ANNOTATION_KARPENTER_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
ANNOTATION_DATADOG_TOLERATE_UNREADY = "ad.datadoghq.com/tolerate-unready"
ANNOTATION_POD_TERMINATION_GRACE = "go.medium.engineering/PodTerminationGracePeriodSeconds"
ANNOTATION_SERVICE_ACCOUNT_NAME = "kubernetes.io/service-account.name"

# Steering (our additive annotations; Go Picchu ignores them). The CLI writes them, the operator reads them.
ANNOTATION_PAUSED = "picchu.medium.engineering/paused"
"""Non-empty: the revision's ramp holds at its current percent (rollback on failure still works)."""
ANNOTATION_PROMOTE = "picchu.medium.engineering/promote"
"""``"<request id> step|full"``: skip the canary TTL / ramp delay once (step) or all the way (full)."""
ANNOTATION_FAILED_REASON = "picchu.medium.engineering/failed-reason"
"""Why a person aborted the revision (spec.failed is the switch, as in Picchu)."""
ANNOTATION_ACTION = "picchu.medium.engineering/last-action"
"""JSON of the last steering request: id, action, by (local user name), at, reason."""
ANNOTATION_ACTION_RECORDED = "picchu.medium.engineering/last-action-recorded"
"""The id of the last steering request the operator recorded as an Event."""

AUTOSCALER_HPA = "hpa"
AUTOSCALER_WPA = "wpa"
AUTOSCALER_KEDA = "keda"

# Finalizers (§2.3)
FINALIZER_RELEASE_MANAGER = "picchu.medium.engineering/releasemanager"
FINALIZER_CLUSTER = "picchu.medium.engineering/cluster"
FINALIZER_CLUSTER_SECRETS = "picchu.medium.engineering/clustersecrets"

# Server-side apply
FIELD_MANAGER = "picchu"

# Cluster credentials Secret key (§3.5)
SECRET_AUTH_INFO_KEY = "auth-info"


def fleet_label(fleet: str) -> str:
    return f"{LABEL_FLEET_PREFIX}{fleet}"


def target_deletable_label(target: str) -> str:
    return f"{LABEL_TARGET_DELETABLE_PREFIX}{target}"
