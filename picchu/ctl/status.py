"""`picchu status APP`: one screen per app: every target, every cluster of its fleet, every tag.

For each tag: state, current/peak percent, pods ready/wanted and route weight per cluster, firing alerts,
why it holds and when its next step is due (the engine's own notes: ``holdReason``/``nextStepAt`` in the
ReleaseManager status and its ``Progressing``/``ClustersSynced`` conditions), and the recent Events.
`collect` builds plain data (what ``--output json|yaml`` prints); `render` draws it with rich.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from picchu import keys
from picchu.api.v1alpha1.common import parse_time
from picchu.clusters.observer import Observer
from picchu.ctl.delivery import NEVER, Delivery, NotFound, event_time

RELEASE_ROUTE_PREFIX = "01_release-"


def collect(delivery: Delivery, app: str, target: str | None = None, events: int = 10) -> dict[str, Any]:
    rms = [rm for rm in delivery.release_managers(app)
           if target is None or (rm.get("spec") or {}).get("target") == target]
    revisions = {r["spec"]["app"]["tag"]: r for r in delivery.revisions(app) if (r.get("spec") or {}).get("app")}
    if not rms and not revisions:
        raise NotFound(f"no Revision or ReleaseManager of app {app!r} in namespace {delivery.namespace!r}")
    targets = [_target(delivery, rm, revisions) for rm in rms]
    names = {r["metadata"]["name"] for r in revisions.values()} | {rm["metadata"]["name"] for rm in rms}
    recent = delivery.events(names)[-events:] if events else []
    return {
        "app": app,
        "namespace": delivery.namespace,
        "targets": targets,
        "events": [_event(e) for e in recent],
    }


def _event(e: dict[str, Any]) -> dict[str, Any]:
    stamp = event_time(e)
    return {"time": stamp.isoformat() if stamp != NEVER else None, "object": (e.get("involvedObject") or {}).get("name"),
            "type": e.get("type"), "reason": e.get("reason"), "message": e.get("message")}


def _target(delivery: Delivery, rm: dict[str, Any], revisions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = rm.get("spec") or {}
    app, target, fleet = spec.get("app", ""), spec.get("target", ""), spec.get("fleet", "")
    status = rm.get("status") or {}
    conditions = [{k: c.get(k) for k in ("type", "status", "reason", "message")} for c in status.get("conditions") or []]
    clusters = _clusters(delivery, fleet, f"{app}-{target}", app)
    tags = []
    for entry in reversed(status.get("revisions") or []):  # newest first
        tag = entry.get("tag", "")
        revision = revisions.get(tag) or {}
        annotations = (revision.get("metadata") or {}).get("annotations") or {}
        alerts_clear = next((c for c in (revision.get("status") or {}).get("conditions") or []
                             if c.get("type") == "AlertsClear"), None)
        scale = entry.get("scale") or {}
        tags.append({
            "tag": tag,
            "revision": (revision.get("metadata") or {}).get("name"),
            "state": (entry.get("state") or {}).get("current"),
            "stateSince": (entry.get("state") or {}).get("lastUpdated"),
            "currentPercent": entry.get("currentPercent", 0),
            "peakPercent": entry.get("peakPercent", 0),
            "podsReady": scale.get("Current", 0),
            "podsWanted": scale.get("Desired", 0),
            "holdReason": entry.get("holdReason"),
            "nextStepAt": entry.get("nextStepAt"),
            "paused": annotations.get(keys.ANNOTATION_PAUSED) or None,
            "failed": bool((revision.get("spec") or {}).get("failed")),
            "failedReason": annotations.get(keys.ANNOTATION_FAILED_REASON),
            "firingAlerts": entry.get("triggeredAlerts") or _firing(alerts_clear),
            "alerts": (alerts_clear or {}).get("message"),
            "perCluster": {c["name"]: c["tags"].get(tag) for c in clusters},
        })
    return {"target": target, "fleet": fleet, "releaseManager": rm["metadata"]["name"],
            "conditions": conditions, "tags": tags, "clusters": [{k: v for k, v in c.items() if k != "tags"}
                                                                   for c in clusters]}


def _firing(condition: dict[str, Any] | None) -> list[str]:
    if not condition or condition.get("reason") != "AlertsFiring":
        return []
    return [a.strip() for a in str(condition.get("message", "")).removeprefix("firing:").split(",") if a.strip()]


def _clusters(delivery: Delivery, fleet: str, namespace: str, app: str) -> list[dict[str, Any]]:
    """Every Cluster of the fleet: enabled/live, reachable, and per tag pods ready/wanted and weight."""
    found = []
    for obj in delivery.clusters(fleet):
        spec = obj.get("spec") or {}
        info: dict[str, Any] = {"name": obj["metadata"]["name"], "enabled": bool(spec.get("enabled")),
                                "live": bool(spec.get("enabled")) and not spec.get("hotStandby"),
                                "reachable": None, "error": None, "tags": {}}
        found.append(info)
        if not info["enabled"]:
            continue
        try:
            connection = delivery.connect_cluster(obj)
        except Exception as exc:
            info["reachable"], info["error"] = False, str(exc)[:300]
            continue
        observation = Observer(timeout=5).observe([connection], namespace)
        if observation.errors:
            info["reachable"], info["error"] = False, next(iter(observation.errors.values()))[:300]
            continue
        info["reachable"] = True
        tags: dict[str, dict[str, int]] = info["tags"]
        for rs in observation.replicasets:
            cur = tags.setdefault(rs.tag, {"ready": 0, "wanted": 0, "weight": 0})
            cur["ready"] += rs.available
            cur["wanted"] += rs.desired
        for tag, weight in _weights(connection.api, namespace, app).items():
            tags.setdefault(tag, {"ready": 0, "wanted": 0, "weight": 0})["weight"] = weight
    return found


def _weights(api: Any, namespace: str, app: str) -> dict[str, int]:
    try:
        vs = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", namespace, "virtualservices", app, _request_timeout=5)
    except Exception:
        return {}
    for route in (vs.get("spec") or {}).get("http") or []:
        if str(route.get("name", "")).startswith(RELEASE_ROUTE_PREFIX):
            return {d["destination"].get("subset", ""): int(d.get("weight", 0)) for d in route.get("route") or []}
    return {}


# -- rendering -----------------------------------------------------------------------------------------------
STATE_STYLE = {"released": "green", "releasing": "cyan", "canarying": "yellow", "canaried": "yellow",
               "failed": "red", "failing": "red", "timingout": "red", "retired": "dim", "retiring": "dim",
               "deleted": "dim", "deleting": "dim", "pendingrelease": "magenta"}


def _when(text: str | None, now: datetime) -> str:
    moment = parse_time(text)
    if moment is None:
        return ""
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return "due now"
    return f"in {seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"in {seconds}s"


def render(data: dict[str, Any], now: datetime | None = None) -> RenderableType:
    now = now or datetime.now(UTC)
    parts: list[RenderableType] = []
    for t in data["targets"]:
        table = Table(expand=False, show_lines=False, pad_edge=False)
        table.add_column("tag", style="bold")
        table.add_column("state")
        table.add_column("traffic", justify="right")
        clusters = [c for c in t["clusters"] if c["enabled"]]
        for c in clusters:
            mark = "" if c["live"] else " (standby)"
            table.add_column(f"{c['name']}{mark}\nready/wanted · weight", justify="right")
        table.add_column("why holding / next step")
        for tag in t["tags"]:
            style = STATE_STYLE.get(tag["state"] or "", "")
            row: list[RenderableType] = [tag["tag"], Text(tag["state"] or "-", style=style),
                                         f"{tag['currentPercent']}% (peak {tag['peakPercent']}%)"]
            for c in clusters:
                if c["reachable"] is False:
                    row.append(Text("unreachable", style="red"))
                    continue
                per = tag["perCluster"].get(c["name"]) or {"ready": 0, "wanted": 0, "weight": 0}
                row.append(f"{per['ready']}/{per['wanted']} · {per['weight']}%")
            notes = []
            if tag["paused"]:
                notes.append(f"[yellow]paused[/] {tag['paused']}")
            if tag["holdReason"]:
                notes.append(tag["holdReason"])
            if tag["nextStepAt"]:
                notes.append(f"next step {_when(tag['nextStepAt'], now)}")
            if tag["firingAlerts"]:
                notes.append("[red]alerts firing:[/] " + ", ".join(tag["firingAlerts"]))
            if tag["failedReason"]:
                notes.append(f"[red]{tag['failedReason']}[/]")
            row.append(Text.from_markup("; ".join(notes)) if notes else "")
            table.add_row(*row)
        lines: list[RenderableType] = [table]
        for cond in t["conditions"]:
            bad = cond["status"] == "False"
            if cond["type"] == "Progressing" and cond.get("message") not in (None, "", "in sync"):
                lines.append(Text(f"progress: {cond['message']}", style="yellow" if bad else ""))
            elif bad:
                lines.append(Text(f"{cond['type']}: {cond.get('message')}", style="red"))
        for c in t["clusters"]:
            if c["reachable"] is False:
                lines.append(Text(f"cluster {c['name']} unreachable: {c['error']}", style="red"))
        parts.append(Panel(Group(*lines), title=f"[bold]{data['app']}[/] → target [bold]{t['target']}[/] "
                                                 f"(fleet {t['fleet']})", expand=False))
    if data["events"]:
        events = Table(title="recent events", expand=False, show_header=True)
        for col in ("time", "object", "reason", "message"):
            events.add_column(col)
        for e in data["events"]:
            stamp = parse_time(e["time"])
            events.add_row(stamp.strftime("%H:%M:%S") if stamp else "", e["object"],
                           Text(e["reason"] or "", style="red" if e["type"] == "Warning" else ""),
                           (e["message"] or "")[:120])
        parts.append(events)
    return Group(*parts)
