"""What an identity really did, read from the local apiservers' audit logs, and what the shipped roles grant.

Why: "least privilege" is a claim about two sets: the requests the operator makes and the permissions its roles
give. The local apiservers log every ServiceAccount request at level Metadata (`Cluster.audit_log_path`), so the
first set is measured, not guessed; the second comes from the charts as helm renders them. The end-to-end
harness checks each test's usage against the record in `tests/e2e/permissions_used.json` (and fails on any
403); `tests/charts/test_permissions.py` checks that record against the roles, and the README table against both.

A permission is (verb, API group, resource[/subresource], scope). Scopes: `cluster` (a cluster-scoped resource,
or every namespace at once), `watched namespace` (delivery: the namespace the operator watches and keeps its
Secrets and Lease in), `app namespace` (target: any «app»-«target» namespace), `service-levels namespace`.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DELIVERY, TARGET = "delivery", "target"
CLUSTER, WATCHED, APP, SERVICE_LEVELS = "cluster", "watched namespace", "app namespace", "service-levels namespace"


@dataclass(frozen=True, order=True)
class Permission:
    role: str
    verb: str
    group: str
    resource: str
    scope: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "verb": self.verb, "group": self.group, "resource": self.resource,
                "scope": self.scope}


@dataclass(frozen=True)
class Request:
    """One audited request (ResponseComplete stage)."""

    user: str
    verb: str
    group: str
    resource: str
    namespace: str
    code: int
    uri: str
    at: datetime | None = None
    name: str = ""  # the object's name, when the request addressed one
    user_agent: str = ""


def read_requests(path: Path, offset: int = 0) -> tuple[list[Request], int]:
    """Requests logged after byte `offset`, and the offset to read from next time."""
    if not path.exists():
        return [], offset
    with open(path, "rb") as log:
        if offset > 0:
            log.seek(offset - 1)
            if log.read(1) != b"\n":
                # The offset was taken (a file size) while a line was being written: that request began
                # before the window, and the rest of its line is not a JSON document.
                log.readline()
            offset = log.tell()
        data = log.read()
    complete = data[: data.rfind(b"\n") + 1]  # a line being written stays for the next read
    found = []
    for line in complete.splitlines():
        event = json.loads(line)
        if event.get("stage") != "ResponseComplete":
            continue
        ref = event.get("objectRef") or {}
        resource = ref.get("resource") or ""
        if ref.get("subresource"):
            resource += "/" + ref["subresource"]
        found.append(Request(user=(event.get("user") or {}).get("username", ""), verb=event.get("verb", ""),
                             group=ref.get("apiGroup") or "", resource=resource,
                             namespace=ref.get("namespace") or "",
                             code=int((event.get("responseStatus") or {}).get("code") or 0),
                             uri=event.get("requestURI", ""), at=_time(event.get("stageTimestamp")),
                             name=ref.get("name") or "", user_agent=event.get("userAgent") or ""))
    return found, offset + len(complete)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def scope_of(role: str, request: Request, watched: str, service_levels: str = "") -> str:
    if not request.namespace or request.resource.split("/")[0] == "namespaces":
        return CLUSTER  # a Namespace's audit objectRef names itself as its namespace
    if role == DELIVERY:
        return WATCHED if request.namespace == watched else f"namespace {request.namespace}"
    return SERVICE_LEVELS if request.namespace == service_levels else APP


def used(role: str, requests: Iterable[Request], user: str, *, watched: str = "",
         service_levels: str = "") -> set[Permission]:
    """The permissions `user` exercised (resource requests only; discovery is open to every identity).

    A server-side apply that created its object (a patch answered 201) was authorized as `create` as well."""
    found = set()
    for r in requests:
        if r.user == user and r.resource:
            scope = scope_of(role, r, watched, service_levels)
            found.add(Permission(role, r.verb, r.group, r.resource, scope))
            if r.verb == "patch" and r.code == 201:
                found.add(Permission(role, "create", r.group, r.resource, scope))
    return found


Window = tuple[datetime, datetime]


def forbidden(requests: Iterable[Request], users: Iterable[str], *, starting: Sequence[Window] = ()) -> list[Request]:
    """`users`' refused requests, except those an apiserver refused while starting (`Cluster.startup_windows`:
    it listens before its RBAC caches are filled, and refuses everyone then)."""
    wanted = set(users)
    return [r for r in requests if r.user in wanted and r.code == 403
            and not (r.at is not None and any(start <= r.at <= ready for start, ready in starting))]


_REFUSAL = re.compile(r"\b403\b|Forbidden")
_LOG_LAG_SECONDS = 10.0  # a refusal is logged within a pass of the response


def refusals_in_log(lines: Iterable[str], *, starting: Sequence[Window] = ()) -> list[str]:
    """Operator log lines reporting a refusal (HTTP 403 / reason Forbidden), except ones logged while an
    apiserver was starting (or just after: the log follows the response)."""
    found = []
    for line in lines:
        if not _REFUSAL.search(line):
            continue
        try:
            at = datetime.fromisoformat(json.loads(line)["ts"])
        except (ValueError, KeyError, TypeError):
            at = None
        if at is not None and any(start <= at and (at - ready).total_seconds() <= _LOG_LAG_SECONDS
                                  for start, ready in starting):
            continue
        found.append(line)
    return found


# --- the record ------------------------------------------------------------------------------------------
def load_record(path: Path) -> set[Permission]:
    if not path.exists():
        return set()
    return {Permission(**item) for item in json.loads(path.read_text())}


def add_to_record(path: Path, permissions: Iterable[Permission]) -> None:
    """Merge `permissions` into the record file (safe with parallel test workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = load_record(path) | set(permissions)
        path.write_text(json.dumps([p.as_dict() for p in sorted(merged)], indent=1) + "\n")


# --- what roles grant ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """One (verb, group, resource) of one rule, where it applies, and the comment above the rule."""

    role: str
    verb: str
    group: str
    resource: str
    scope: str
    comment: str
    source: str

    def covers(self, permission: Permission) -> bool:
        if permission.role != self.role or permission.group != self.group:
            return False
        if self.resource not in (permission.resource, "*") or self.verb not in (permission.verb, "*"):
            return False
        return self.scope in (CLUSTER, permission.scope)  # a ClusterRole's grant holds in every namespace


def grants(role: str, manifests: list[dict[str, Any]], comments: dict[str, list[str]], *,
           scopes: dict[str, str]) -> list[Grant]:
    """Every (verb, group, resource) of the bound Roles/ClusterRoles in `manifests`.

    `comments[name]` lists, per rule, the comment lines right above it in the rendered text (`rule_comments`);
    `scopes` names the scope of a Role's namespace (a ClusterRole's grants are `cluster`: every namespace)."""
    found = []
    for item in manifests:
        if item.get("kind") not in ("Role", "ClusterRole"):
            continue
        name = item["metadata"]["name"]
        scope = CLUSTER if item["kind"] == "ClusterRole" else scopes[item["metadata"]["namespace"]]
        for index, rule in enumerate(item.get("rules") or []):
            note = (comments.get(f"{item['kind']}/{name}") or [])
            comment = note[index] if index < len(note) else ""
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    for verb in rule.get("verbs") or []:
                        found.append(Grant(role, verb, group, resource, scope, comment, f"{item['kind']}/{name}"))
    return found


def rule_comments(rendered: str) -> dict[str, list[str]]:
    """Per `Kind/name` of each rendered Role/ClusterRole, the comment that heads each of its rules: the one right
    above it, else the nearest one above (a comment heads the group of rules that follows it)."""
    result: dict[str, list[str]] = {}
    for document in rendered.split("\n---"):
        kind = name = ""
        notes: list[str] = []
        pending: list[str] = []
        current = ""
        in_rules = False
        for line in document.splitlines():
            stripped = line.strip()
            if line.startswith("kind:"):
                kind = stripped.split(":", 1)[1].strip()
            elif line.startswith("  name:") and not name:
                name = stripped.split(":", 1)[1].strip()
            elif line.startswith("rules:"):
                in_rules = True
            elif in_rules and stripped.startswith("#"):
                pending.append(stripped.lstrip("# "))
            elif in_rules and stripped.startswith("- apiGroups"):
                current = " ".join(pending) if pending else current  # a comment heads the rules below it
                notes.append(current)
                pending = []
        if kind in ("Role", "ClusterRole") and name:
            result[f"{kind}/{name}"] = notes
    return result


def table(record: set[Permission]) -> Iterator[str]:
    """The README table: per role, group and resource, the verbs used and where."""
    rows: dict[tuple[str, str, str, str], set[str]] = {}
    for p in record:
        rows.setdefault((p.role, p.group or "core", p.resource, p.scope), set()).add(p.verb)
    yield "| cluster | API group | resource | scope | verbs used |"
    yield "|---|---|---|---|---|"
    for (role, group, resource, scope), verbs in sorted(rows.items()):
        yield f"| {role} | {group} | {resource} | {scope} | {', '.join(sorted(verbs))} |"
