"""Reading the apiserver audit log and the rendered roles (picchu.testing.audit), on recorded-shape inputs."""

from __future__ import annotations

import json
from pathlib import Path

from picchu.testing import audit

ROLE_TEXT = """\
---
# Source: x/templates/rbac.yaml
# header comment, not a rule's
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: picchu-target
  labels:
    app.kubernetes.io/name: x
rules:
  # the app namespace: needed when an app is deleted
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [create, delete]
  - apiGroups: ["apps"]
    resources: [replicasets]
    verbs: [list]
"""


def _event(user: str, verb: str, resource: str, namespace: str = "", code: int = 200, stage: str = "ResponseComplete",
           subresource: str = "", group: str = "") -> str:
    ref = {"resource": resource, "apiGroup": group, **({"namespace": namespace} if namespace else {}),
           **({"subresource": subresource} if subresource else {})}
    return json.dumps({"stage": stage, "user": {"username": user}, "verb": verb, "objectRef": ref,
                       "responseStatus": {"code": code}, "requestURI": f"/{resource}"})


def test_requests_are_read_from_an_offset_and_a_half_written_line_waits_for_the_next_read(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(_event("op", "list", "secrets", "ns") + "\n" + _event("op", "get", "x", stage="RequestReceived")
                   + "\n" + _event("op", "patch", "revisions", "ns", subresource="status", group="g")[:20])
    requests, offset = audit.read_requests(log)
    assert [(r.verb, r.resource) for r in requests] == [("list", "secrets")]
    with open(log, "a") as more:
        more.write(_event("op", "patch", "revisions", "ns", subresource="status", group="g")[20:] + "\n")
    later, _ = audit.read_requests(log, offset)
    assert [(r.verb, r.group, r.resource) for r in later] == [("patch", "g", "revisions/status")]


def test_a_file_size_taken_while_a_line_was_half_written_starts_the_window_at_the_next_line(tmp_path: Path) -> None:
    """Tests take the audit log's size as the start of their window; the apiserver may be writing a line then."""
    log = tmp_path / "audit.log"
    before = _event("machinery", "get", "nodes")
    log.write_text(_event("op", "list", "secrets", "ns") + "\n" + before[:30])
    start = log.stat().st_size
    with open(log, "a") as more:
        more.write(before[30:] + "\n" + _event("op", "watch", "revisions", "ns") + "\n")
    requests, _ = audit.read_requests(log, start)
    assert [(r.user, r.verb, r.resource) for r in requests] == [("op", "watch", "revisions")]


def test_usage_is_per_identity_and_scope_and_refusals_are_found(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join([_event("op", "list", "secrets", "watched"), _event("op", "list", "namespaces"),
                              _event("op", "get", "secrets", "kube-system", code=403),
                              _event("admin", "delete", "secrets", "watched")]) + "\n")
    requests, _ = audit.read_requests(log)
    used = audit.used(audit.DELIVERY, requests, "op", watched="watched")
    assert used == {audit.Permission(audit.DELIVERY, "list", "", "secrets", audit.WATCHED),
                    audit.Permission(audit.DELIVERY, "list", "", "namespaces", audit.CLUSTER),
                    audit.Permission(audit.DELIVERY, "get", "", "secrets", "namespace kube-system")}
    assert [r.namespace for r in audit.forbidden(requests, ["op"])] == ["kube-system"]
    assert audit.used(audit.TARGET, requests, "op", service_levels="watched") >= {
        audit.Permission(audit.TARGET, "list", "", "secrets", audit.SERVICE_LEVELS)}


def test_grants_carry_the_comment_heading_their_rule() -> None:
    import yaml

    manifests = [d for d in yaml.safe_load_all(ROLE_TEXT) if d]
    found = audit.grants(audit.TARGET, manifests, audit.rule_comments(ROLE_TEXT), scopes={})
    comments = {(g.resource, g.verb): g.comment for g in found}
    assert comments[("namespaces", "delete")] == "the app namespace: needed when an app is deleted"
    assert comments[("replicasets", "list")] == comments[("namespaces", "delete")], "a comment heads its group"
    assert {g.scope for g in found} == {audit.CLUSTER}


def test_the_record_merges_and_the_table_groups_verbs(tmp_path: Path) -> None:
    record = tmp_path / "used.json"
    audit.add_to_record(record, [audit.Permission(audit.TARGET, "list", "apps", "replicasets", audit.APP)])
    audit.add_to_record(record, [audit.Permission(audit.TARGET, "patch", "apps", "replicasets", audit.APP)])
    assert len(audit.load_record(record)) == 2
    assert list(audit.table(audit.load_record(record)))[2] == "| target | apps | replicasets | app namespace | list, patch |"


def test_refusals_while_an_apiserver_starts_are_excused_and_all_others_found() -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    window = [(start, start + timedelta(seconds=5))]
    early = audit.Request("op", "list", "", "x", "", 403, "/x", at=start + timedelta(seconds=1))
    late = audit.Request("op", "list", "", "x", "", 403, "/x", at=start + timedelta(seconds=6))
    assert audit.forbidden([early, late], ["op"], starting=window) == [late]
    lines = [json.dumps({"ts": (start + timedelta(seconds=s)).isoformat(), "msg": m}) for s, m in
             ((2, "list: 403 Forbidden"), (60, "HTTP 403"), (61, "annotation is forbidden when set"))]
    assert audit.refusals_in_log(lines, starting=window) == [lines[1]]
