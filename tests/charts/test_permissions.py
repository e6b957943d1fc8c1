"""Least privilege, measured: the shipped roles against what the operator really did.

`tests/e2e/permissions_used.json` is the record of every (verb, group, resource, scope) the operator used in
the end-to-end suite, per cluster role, read from the apiservers' audit logs (`picchu.testing.audit`; every
e2e test fails when it uses something the record lacks, so the record cannot fall behind). Here, with the
roles as helm renders them: everything used is granted, every grant is used or its rule carries a comment
saying when it is needed, and the README's permission table is the record.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from picchu.testing import audit
from picchu.testing.fleet import TARGET_NAMESPACE
from picchu.testing.helm import Helm

pytestmark = pytest.mark.tools
ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "tests" / "e2e" / "permissions_used.json"
WATCHED = "picchu"
SERVICE_LEVELS = "service-level-objectives"


@pytest.fixture(scope="module")
def shipped(helm_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> list[audit.Grant]:
    """The grants of both charts as the e2e suite installs them (the delivery chart watching one namespace)."""
    helm = Helm(helm_binary, workdir=tmp_path_factory.mktemp("helm"))
    found: list[audit.Grant] = []
    for role, chart, namespace, scopes, sets in (
            (audit.DELIVERY, "picchu", WATCHED, {WATCHED: audit.WATCHED}, ("--set", f"run.namespace={WATCHED}")),
            (audit.TARGET, "picchu-target", TARGET_NAMESPACE, {SERVICE_LEVELS: audit.SERVICE_LEVELS}, ())):
        text = helm.run("template", chart, str(ROOT / "charts" / chart), "--namespace", namespace, *sets).stdout
        manifests = [d for d in yaml.safe_load_all(text) if d]
        found += audit.grants(role, manifests, audit.rule_comments(text), scopes=scopes)
    return found


def test_the_record_has_both_roles_and_every_permission_used_is_granted(shipped: list[audit.Grant]) -> None:
    record = audit.load_record(RECORD)
    assert {p.role for p in record} == {audit.DELIVERY, audit.TARGET}, "record it: PICCHU_RECORD_PERMISSIONS=1"
    ungranted = sorted(p for p in record if not any(g.covers(p) for g in shipped))
    assert not ungranted, [p.as_dict() for p in ungranted]


def test_every_grant_is_used_or_says_when_it_is_needed(shipped: list[audit.Grant]) -> None:
    record = audit.load_record(RECORD)
    unexplained = [f"{g.source}: {g.verb} {g.group or 'core'}/{g.resource} ({g.scope})" for g in shipped
                   if not any(g.covers(p) for p in record)
                   and not any(word in g.comment.lower() for word in ("when", "needed"))]
    assert not unexplained, "grants never used and without a comment saying when they are needed:\n" + \
        "\n".join(unexplained)


def test_the_readme_permission_table_is_the_record() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [line for line in audit.table(audit.load_record(RECORD)) if line not in readme]
    assert not missing, "README's permission table is stale; expected lines:\n" + "\n".join(missing)


def test_a_grant_covers_its_own_scope_and_a_cluster_role_every_namespace() -> None:
    role = audit.Grant(audit.DELIVERY, "get", "", "secrets", audit.WATCHED, "", "Role/picchu")
    cluster = audit.Grant(audit.DELIVERY, "get", "", "secrets", audit.CLUSTER, "", "ClusterRole/picchu")
    here = audit.Permission(audit.DELIVERY, "get", "", "secrets", audit.WATCHED)
    elsewhere = audit.Permission(audit.DELIVERY, "get", "", "secrets", "namespace kube-system")
    assert role.covers(here) and not role.covers(elsewhere)
    assert cluster.covers(here) and cluster.covers(elsewhere)
    assert not role.covers(audit.Permission(audit.DELIVERY, "list", "", "secrets", audit.WATCHED))
    assert not role.covers(audit.Permission(audit.TARGET, "get", "", "secrets", audit.WATCHED))
