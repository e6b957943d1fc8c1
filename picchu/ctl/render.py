"""`picchu render REVISION|FILE [--cluster C] [--diff]`: the exact objects the operator's next pass would
write to each cluster, and with ``--diff`` how they differ from what is there now.

It runs the operator's own pass without its write half (``engine.release_manager.preview``: the same
reads, one observation, ``release.decide``, ``engine.rendering`` → ``plans``), so what it prints is what
the applier would send. A FILE is a Revision manifest not applied yet: it joins (or replaces, by tag) the
app's stored Revisions. ``--diff`` asks each cluster for a server-side dry-run apply (``dryRun=All``, field
manager ``picchu``) and compares the result with the live object; nothing is written. Objects the
operator would prune are not shown.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_revision
from picchu.clusters.desired import DesiredObject
from picchu.clusters.transport import APPLY_PATCH, Deadline, Discovery, RequestFailed, send
from picchu.ctl.delivery import Delivery, NotFound
from picchu.engine.assembly import build_context
from picchu.engine.events import EventRecorder
from picchu.engine.release_manager import preview
from picchu.settings import Settings

NOISE = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


@dataclass
class ClusterRender:
    target: str
    cluster: str
    objects: list[DesiredObject] = field(default_factory=list)
    problem: str = ""
    connection: Any = None


def load_subject(delivery: Delivery, subject: str) -> tuple[Revision, bool]:
    """(the Revision, whether it came from a file)."""
    path = Path(subject)
    if path.is_file():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind") == "Revision"]
        if len(docs) != 1:
            raise NotFound(f"{subject}: expected exactly one Revision manifest, found {len(docs)}")
        doc = docs[0]
        doc.setdefault("metadata", {}).setdefault("namespace", delivery.namespace)
        try:
            return load_revision(doc), True
        except InvalidSpec as exc:
            raise NotFound(f"{subject}: invalid Revision: {exc}") from None
    return delivery.revision(subject), False


def render_plans(delivery: Delivery, subject: str, cluster: str | None = None) -> list[ClusterRender]:
    revision, from_file = load_subject(delivery, subject)
    ctx = build_context(Settings(), delivery.api)  # Picchu's defaults, as the chart runs the operator
    ctx.events = EventRecorder(None)  # a preview records nothing
    out: list[ClusterRender] = []
    for target in revision.spec.targets:
        rm_obj = delivery.release_manager(revision.app, target.name) or {
            "apiVersion": keys.API_VERSION, "kind": "ReleaseManager",
            "metadata": {"name": f"{revision.app}-{target.name}", "namespace": delivery.namespace},
            "spec": {"fleet": target.fleet, "app": revision.app, "target": target.name}}
        pv = preview(ctx, rm_obj, (revision,) if from_file else ())
        for member in pv.members:
            if cluster is not None and member.name != cluster:
                continue
            item = ClusterRender(target.name, member.name, connection=member.connection)
            if member.name in pv.unreachable:
                item.problem = f"unreachable: {pv.unreachable[member.name]}"
            elif pv.decision.held:
                item.problem = "; ".join(pv.decision.reasons) or "the pass holds: nothing would be written"
            plan = pv.plans.get(member.name)
            if plan is not None:
                item.objects = list(plan.objects)
            out.append(item)
    if cluster is not None and not out:
        raise NotFound(f"no enabled cluster named {cluster!r} in the revision's fleets")
    return out


def to_yaml(renders: list[ClusterRender]) -> str:
    docs = []
    for r in renders:
        header = f"# target {r.target}, cluster {r.cluster}: {len(r.objects)} objects"
        if r.problem:
            header += f" ({r.problem})"
        docs.append(header)
        for obj in r.objects:
            note = f"# write mode: {obj.mode}\n" if obj.mode != "apply" else ""
            docs.append(note + "---\n" + yaml.safe_dump(dict(obj.manifest), sort_keys=False).rstrip())
    return "\n".join(docs) + "\n"


def _clean(obj: dict[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in NOISE}
    out["metadata"] = meta
    return out


def diff(renders: list[ClusterRender], timeout: float = 10.0) -> tuple[str, int]:
    """Unified diffs (live → what a server-side apply would make it); returns (text, objects changed)."""
    discovery = Discovery()
    chunks: list[str] = []
    changed = 0
    for r in renders:
        if r.connection is None:
            chunks.append(f"# target {r.target}, cluster {r.cluster}: cannot diff ({r.problem or 'not connected'})")
            continue
        same = 0
        for obj in r.objects:
            key = obj.key
            label = f"{r.cluster}: {key}"
            try:
                deadline = Deadline(timeout)
                where = discovery.locate(r.connection, obj.manifest["apiVersion"], obj.manifest["kind"], deadline)
                path = where.item(key.namespace, key.name)
                live_response = send(r.connection, "GET", path, deadline)
                live = live_response.body if live_response.status == 200 else None
                if obj.mode == "apply":
                    answer = send(r.connection, "PATCH", path, deadline, body=dict(obj.manifest),
                                  content_type=APPLY_PATCH, query=(("fieldManager", keys.FIELD_MANAGER),
                                                                   ("force", "true"), ("dryRun", "All")))
                elif live is None:
                    answer = send(r.connection, "POST", where.collection(key.namespace), deadline,
                                  body=dict(obj.manifest), query=(("fieldManager", keys.FIELD_MANAGER),
                                                                  ("dryRun", "All")))
                else:  # create-only / scale-only: only the replica count may change once it exists
                    answer = None
                if answer is not None and not answer.ok:
                    chunks.append(f"# {label}: the apiserver refused the dry run: {answer.reason()}")
                    changed += 1
                    continue
                after = answer.body if answer is not None else dict(live or {})
                if answer is None and obj.mode == "scale-only" and live is not None:
                    replicas = (obj.manifest.get("spec") or {}).get("replicas")
                    after = {**live, "spec": {**(live.get("spec") or {}), "replicas": replicas}}
            except RequestFailed as exc:
                chunks.append(f"# {label}: {exc}")
                changed += 1
                continue
            before_text = yaml.safe_dump(_clean(live), sort_keys=True).splitlines(keepends=True) if live else []
            after_text = yaml.safe_dump(_clean(after), sort_keys=True).splitlines(keepends=True)
            lines = list(difflib.unified_diff(before_text, after_text, f"live/{label}" if live else "/dev/null",
                                              f"picchu/{label}"))
            if lines:
                changed += 1
                chunks.append("".join(lines).rstrip())
            else:
                same += 1
        chunks.append(f"# target {r.target}, cluster {r.cluster}: {same} of {len(r.objects)} objects unchanged")
    return "\n".join(chunks) + "\n", changed
