"""The app's mesh objects: Service, Sidecar, DestinationRule, app PrometheusRule, VirtualService (§11.9).

Route names, order and weights are wire-visible (and churn if they differ), so they follow Picchu exactly:
`00_dev-«app»` (dev route), `00_tagged-«tag»-«port»` (requests carrying the tag-routing header),
`01_release-«port»` (the weighted split), all sorted by name; hosts and gateways sorted. Subsets and
release destinations are sorted by tag (§17 #30). The dev-route header is rendered as plain text (§17 #21)
and FaultInjector faults are Istio's native JSON, passed through (§17 #17).

Neighbours: `hosts.py` (host names and the authority regex), `inputs.RoutingInput` (what is routed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from picchu import keys
from picchu.api.v1alpha1.durations import parse_duration
from picchu.plans import hosts, labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput, ClusterInput, RoutingInput
from picchu.plans.wire import Manifest, RenderError, as_wire, plain

ISTIO_API = "networking.istio.io/v1alpha3"
MESH = "mesh"
INGRESSES = ("public", "private")
_TEMPLATE_FIELD = re.compile(r"\{\{-?\s*\.(\w+)\s*-?\}\}")


def render_routing(inputs: AppInput, cluster: ClusterInput, routing: RoutingInput) -> list[Manifest]:
    """Service, Sidecar, DestinationRule, app PrometheusRule, VirtualService (each only when due)."""
    if not routing.ports:
        return []
    app_labels = labels.app_labels(inputs)
    namespace, app = inputs.namespace, inputs.app
    rendered = [_service(inputs, routing)]
    if routing.sidecar_egress_hosts:
        egress = [{"hosts": list(routing.sidecar_egress_hosts)}]
        rendered.append(new_object(ISTIO_API, "Sidecar", app, namespace, app_labels, spec={"egress": egress}))
    if not routing.revisions:
        return rendered
    subsets = []
    for revision in sorted(routing.revisions, key=lambda revision: revision.tag):
        subset: dict[str, Any] = {"name": revision.tag, "labels": {keys.LABEL_POD_TAG: revision.tag}}
        policy = plain(revision.traffic_policy)
        if policy:
            subset["trafficPolicy"] = policy
        subsets.append(subset)
    rule_spec = {"host": _mesh_host(inputs), "subsets": subsets}
    rendered.append(new_object(ISTIO_API, "DestinationRule", app, namespace, app_labels, spec=rule_spec))
    if routing.alert_rules:
        groups = [{"name": "picchu.rules", "rules": [plain(rule) for rule in routing.alert_rules]}]
        rendered.append(
            new_object(
                "monitoring.coreos.com/v1",
                "PrometheusRule",
                app,
                namespace,
                app_labels,
                spec={"groups": groups},
            )
        )
    service = virtual_service(inputs, cluster, routing)
    if service is not None:
        rendered.append(service)
    return rendered


def virtual_service(inputs: AppInput, cluster: ClusterInput, routing: RoutingInput) -> Manifest | None:
    """The VirtualService, or None when it would have no routes or no hosts (Picchu writes none then)."""
    builder = _RouteBuilder(inputs, cluster, routing)
    routes = builder.dev_routes() + builder.tagged_routes() + builder.release_routes()
    if not routes:
        return None
    routes.sort(key=lambda route: str(route["name"]))
    spec = {
        "hosts": sorted(builder.hosts),
        "gateways": sorted(builder.gateways),
        "http": routes,
    }
    return new_object(
        ISTIO_API, "VirtualService", inputs.app, inputs.namespace, labels.app_labels(inputs), spec=spec
    )


def _mesh_host(inputs: AppInput) -> str:
    return f"{inputs.app}.{inputs.namespace}.svc.cluster.local"


def _service(inputs: AppInput, routing: RoutingInput) -> Manifest:
    ports = sorted(routing.ports, key=lambda port: int(port.get("port") or 80))
    spec = {
        "ports": [
            {
                "name": port.get("name"),
                "protocol": port.get("protocol") or "TCP",
                "port": int(port.get("port") or 80),
                "targetPort": port.get("name"),
            }
            for port in ports
        ],
        "selector": {keys.LABEL_APP: inputs.app},
    }
    service_labels = {**labels.app_labels(inputs), keys.LABEL_PROMETHEUS_SCRAPE: "true"}
    return new_object("v1", "Service", inputs.app, inputs.namespace, service_labels, spec=spec)


def go_duration_to_proto(text: str, field: str) -> str:
    """A Go duration ("3ms", "1m") as the protobuf JSON duration Istio stores ("0.003s", "60s")."""
    try:
        delta = parse_duration(text)
    except ValueError as error:
        raise RenderError([(field, str(error))]) from None
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    seconds = format(Decimal(micros) / 1_000_000, "f")
    return (seconds.rstrip("0").rstrip(".") if "." in seconds else seconds) + "s"


class _RouteBuilder:
    """Collects hosts and gateways while building the routes of one VirtualService."""

    def __init__(self, inputs: AppInput, cluster: ClusterInput, routing: RoutingInput) -> None:
        self.inputs, self.routing = inputs, routing
        self.cluster = cluster
        self.ingresses = as_wire(cluster.spec).get("ingresses") or {}
        self.mesh_host = _mesh_host(inputs)
        self.hosts: set[str] = {self.mesh_host}
        self.gateways: set[str] = {MESH}
        self.ports = [as_wire(port) for port in routing.ports]

    def dev_routes(self) -> list[dict[str, Any]]:
        spec = as_wire(self.cluster.spec)
        template = str(spec.get("devRouteTagTemplate") or "")
        settings = self.inputs.settings
        if not (spec.get("enableDevRoutes") and template and settings.dev_routes_service_host):
            return []
        if settings.dev_routes_service_port <= 0:
            return []
        header = self._render_template(template)
        if not header:
            return []
        destination = {
            "host": settings.dev_routes_service_host,
            "port": {"number": settings.dev_routes_service_port},
        }
        return [{
            "name": f"00_dev-{self.inputs.app}",
            "match": [{"headers": {header: {"regex": "(.+)"}}}],
            "route": [{"destination": destination, "weight": 100}],
        }]  # fmt: skip

    def tagged_routes(self) -> list[dict[str, Any]]:
        routes = []
        for revision in self.routing.revisions:
            if not revision.tag_routing_header:
                continue
            header = {revision.tag_routing_header: {"exact": revision.tag}}
            for port in self.ports:
                destination = self._destination(port, revision.tag)
                routes.append(self._route(
                    f"00_tagged-{revision.tag}-{port.get('name')}", port, header, [{**destination, "weight": 100}]
                ))  # fmt: skip
        return routes

    def release_routes(self) -> list[dict[str, Any]]:
        weighted = sorted((rev for rev in self.routing.revisions if rev.weight > 0), key=lambda rev: rev.tag)
        if not weighted:
            return []
        return [
            self._route(
                f"01_release-{port.get('name')}", port, None,
                [{**self._destination(port, revision.tag), "weight": revision.weight} for revision in weighted],
            )
            for port in self.ports
        ]  # fmt: skip

    def _destination(self, port: Mapping[str, Any], subset: str) -> dict[str, Any]:
        number = int(port.get("port") or 80)
        return {"destination": {"host": self.mesh_host, "port": {"number": number}, "subset": subset}}

    def _route(self, name: str, port: Mapping[str, Any], header: dict[str, Any] | None,
               destinations: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
        route: dict[str, Any] = {"name": name, "match": self._matches(port, header), "route": destinations}
        http = ((port.get("istio") or {}).get("http")) or {}
        retries = http.get("retries") or {}
        if retries:
            rendered: dict[str, Any] = {}
            if retries.get("attempts") is not None:
                rendered["attempts"] = retries["attempts"]
            if retries.get("perTryTimeout"):
                rendered["perTryTimeout"] = go_duration_to_proto(
                    retries["perTryTimeout"], f"ports[{port.get('name')}].istio.http.retries.perTryTimeout"
                )
            if retries.get("retryOn"):
                rendered["retryOn"] = retries["retryOn"]
            route["retries"] = rendered
        if http.get("timeout"):
            route["timeout"] = go_duration_to_proto(
                http["timeout"], f"ports[{port.get('name')}].istio.http.timeout"
            )
        fault = self._fault(int(port.get("port") or 80))
        if fault:
            route["fault"] = fault
        return route

    def _matches(self, port: Mapping[str, Any], header: dict[str, Any] | None) -> list[dict[str, Any]]:
        base: dict[str, Any] = {"headers": header} if header else {}
        number = int(port.get("port") or 80)
        matches = [{**base, "port": number, "gateways": [MESH], "uri": {"prefix": "/"}}]
        for ingress in INGRESSES:
            port_hosts = self._port_hosts(port, ingress)
            gateway = str((self.ingresses.get(ingress) or {}).get("gateway") or "")
            if ingress not in (port.get("ingresses") or []) or not port_hosts or not gateway:
                continue
            self.hosts.update(port_hosts)
            self.gateways.add(gateway)
            ingress_port = int(port.get("ingressPort") or 443)
            authority = {"regex": hosts.authority_regex(port_hosts)}
            for match_port in [ingress_port] + ([80] if ingress_port == 443 else []):
                matches.append({
                    **base, "authority": authority, "port": match_port, "gateways": [gateway], "uri": {"prefix": "/"},
                })  # fmt: skip
        return matches

    def _port_hosts(self, port: Mapping[str, Any], ingress: str) -> list[str]:
        domains = (self.ingresses.get(ingress) or {}).get("defaultDomains") or []
        inputs = self.inputs
        defaults = hosts.default_hosts(inputs.app, inputs.namespace, inputs.target, inputs.fleet, domains)
        return hosts.port_hosts(
            port=port, ingress=ingress, all_ports=self.ports, defaults=defaults,
            default_ingress_ports=self.routing.default_ingress_ports,
        )  # fmt: skip

    def _fault(self, port_number: int) -> dict[str, Any] | None:
        chosen = None
        for entry in self.inputs.faults:
            wire = as_wire(entry)
            selector = wire.get("portSelector") or {}
            if selector.get("number") == port_number and wire.get("fault"):
                chosen = wire["fault"]
        return chosen

    def _render_template(self, template: str) -> str:
        """Plain-text rendering of `{{.Field}}` (§17 #21); anything else → "" (the route is skipped)."""
        fields = {
            "App": self.inputs.app,
            "Name": self.inputs.app,
            "Target": self.inputs.target,
            "Fleet": self.inputs.fleet,
            "Namespace": self.inputs.namespace,
        }
        unknown = [name for name in _TEMPLATE_FIELD.findall(template) if name not in fields]
        rendered = _TEMPLATE_FIELD.sub(lambda match: fields.get(match.group(1), ""), template)
        if unknown or "{{" in rendered or "}}" in rendered:
            return ""
        return rendered
