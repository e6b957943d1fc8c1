"""VirtualService routes, hosts and weights for the spec's SyncApp scenarios (picchu-samples §3.5)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import plan_scenarios as scenarios
import pytest
from hypothesis import given
from hypothesis import strategies as st

from picchu.plans import hosts, routing
from picchu.plans.hosts import quote_meta
from picchu.plans.inputs import AppInput, RouteRevision, RoutingInput, Settings
from picchu.plans.plan import render_cluster
from picchu.plans.wire import Manifest, RenderError

MESH_HOST = "testapp.testnamespace.svc.cluster.local"
NEW_APP_REGEX = (
    r"^(testapp\.doki-pen\.org|testapp\.test-a\.cluster\.doki-pen\.org|testnamespace\.doki-pen\.org"
    r"|testnamespace\.test-a\.cluster\.doki-pen\.org)(:[0-9]+)?$"
)


def _objects(inputs: AppInput, cluster: Any) -> dict[str, Manifest]:
    assert inputs.routing is not None
    return {obj["kind"]: obj for obj in routing.render_routing(inputs, cluster, inputs.routing)}


def _match(port: int, gateway: str = "mesh", header: dict[str, Any] | None = None, authority: str = "") -> dict:
    match: dict[str, Any] = {"headers": header} if header else {}
    if authority:
        match["authority"] = {"regex": authority}
    return {**match, "port": port, "gateways": [gateway], "uri": {"prefix": "/"}}


def _destination(port: int, subset: str, weight: int, host: str = MESH_HOST) -> dict:
    return {"destination": {"host": host, "port": {"number": port}, "subset": subset}, "weight": weight}


def test_a_new_app_gets_the_virtual_service_of_the_go_fixture() -> None:
    objects = _objects(scenarios.sync_new_app(), scenarios.sync_new_app_cluster())
    header = {"TEST-TAG": {"exact": "testtag"}}
    retries = {"attempts": 2, "perTryTimeout": "0.003s", "retryOn": "5xx"}
    http_matches = lambda h: [  # noqa: E731
        _match(80, header=h),
        _match(443, "private-gateway", h, NEW_APP_REGEX),
        _match(80, "private-gateway", h, NEW_APP_REGEX),
    ]
    assert objects["VirtualService"]["spec"] == {
        "hosts": [
            "testapp.doki-pen.org",
            "testapp.test-a.cluster.doki-pen.org",
            MESH_HOST,
            "testnamespace.doki-pen.org",
            "testnamespace.test-a.cluster.doki-pen.org",
        ],
        "gateways": ["mesh", "private-gateway"],
        "http": [
            {"name": "00_tagged-testtag-http", "match": http_matches(header),
             "route": [_destination(80, "testtag", 100)], "retries": retries, "timeout": "0.003s"},
            {"name": "00_tagged-testtag-status", "match": [_match(4242, header=header)],
             "route": [_destination(4242, "testtag", 100)]},
            {"name": "01_release-http", "match": http_matches(None),
             "route": [_destination(80, "testtag", 100)], "retries": retries, "timeout": "0.003s"},
            {"name": "01_release-status", "match": [_match(4242)], "route": [_destination(4242, "testtag", 100)]},
        ],
    }  # fmt: skip


def test_a_new_app_gets_its_service_destination_rule_sidecar_and_alert_rules() -> None:
    objects = _objects(scenarios.sync_new_app(), scenarios.sync_new_app_cluster())
    service = objects["Service"]
    assert service["metadata"]["labels"]["prometheus.io/scrape"] == "true"
    assert service["spec"] == {
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"},
            {"name": "status", "protocol": "TCP", "port": 4242, "targetPort": "status"},
        ],
        "selector": {"picchu.medium.engineering/app": "testapp"},
    }
    assert objects["DestinationRule"]["spec"] == {
        "host": MESH_HOST,
        "subsets": [{
            "name": "testtag",
            "labels": {"tag.picchu.medium.engineering": "testtag"},
            "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}},
        }],
    }  # fmt: skip
    assert objects["Sidecar"]["spec"] == {"egress": [{"hosts": ["istio-system/*"]}]}
    assert objects["PrometheusRule"]["spec"]["groups"] == [
        {"name": "picchu.rules", "rules": [{"alert": "hello", "expr": "hello world"}]}
    ]


def test_default_domains_give_app_and_namespace_hosts_plus_the_ports_own_hosts() -> None:
    """TestDomains: target and fleet unset (equal), so `«app».«domain»` is a default host too."""
    port = {"name": "http", "port": 80, "ingressPort": 443, "ingresses": ["public", "private"],
            "hosts": ["www.doki-pen.org"]}  # fmt: skip
    routing_input = RoutingInput(ports=(port,), revisions=(RouteRevision("v1", 100),),
                                 default_ingress_ports={"public": "http", "private": "http"})  # fmt: skip
    inputs = AppInput(app="website", target="", fleet="", namespace="website-production", routing=routing_input)
    cluster = scenarios.cluster("test-a", public=("public-ingressgateway", ["doki-pen.org"]),
                                private=("private-ingressgateway", ["dkpn.io"]))  # fmt: skip
    spec = _objects(inputs, cluster)["VirtualService"]["spec"]
    assert spec["hosts"] == sorted([
        "www.doki-pen.org", "website.doki-pen.org", "website-production.doki-pen.org",
        "website.dkpn.io", "website-production.dkpn.io", "website.website-production.svc.cluster.local",
    ])  # fmt: skip
    assert spec["gateways"] == ["mesh", "private-ingressgateway", "public-ingressgateway"]


def test_only_the_default_port_of_an_ingress_gets_the_default_hosts() -> None:
    """TestHosts: the namespace ends with -«fleet», so the fleet-less name is a default host."""
    ports = (
        {"name": "http", "port": 80, "ingressPort": 443, "ingresses": ["public", "private"],
         "hosts": ["www.doki-pen.org"]},
        {"name": "http-private", "port": 8080, "ingressPort": 443, "ingresses": ["private"],
         "hosts": ["www.dkpn.io"]},
    )  # fmt: skip
    routing_input = RoutingInput(ports=ports, revisions=(RouteRevision("v1", 100),),
                                 default_ingress_ports={"public": "http", "private": "http-private"})  # fmt: skip
    inputs = AppInput(app="website", target="staging", fleet="internal", routing=routing_input,
                      namespace="website-internal")  # fmt: skip
    cluster = scenarios.cluster("test-a", public=("public-ingressgateway", ["doki-pen.org"]),
                                private=("private-ingressgateway", ["dkpn.io"]))  # fmt: skip
    routes = {route["name"]: route for route in _objects(inputs, cluster)["VirtualService"]["spec"]["http"]}
    authorities = lambda name: {  # noqa: E731
        match["gateways"][0]: match["authority"]["regex"] for match in routes[name]["match"] if "authority" in match
    }
    assert authorities("01_release-http") == {
        "public-ingressgateway": r"^(website-internal\.doki-pen\.org|website\.doki-pen\.org|www\.doki-pen\.org)(:[0-9]+)?$",
        "private-ingressgateway": r"^(www\.doki-pen\.org)(:[0-9]+)?$",
    }
    assert authorities("01_release-http-private") == {
        "private-ingressgateway": r"^(website-internal\.dkpn\.io|website\.dkpn\.io|www\.dkpn\.io)(:[0-9]+)?$",
    }


def test_production_echo_matches_ten_private_hosts_quoted_like_go() -> None:
    domains = ["medm.io", "production.medm.io", "production.medm.cloud", "production-reef.medm.io",
               "production-reef.medm.cloud"]  # fmt: skip
    cluster = scenarios.cluster(
        "production-reef-a",
        public=("public-ingressgateway.istio-system.svc.cluster.local", []),
        private=("private-ingressgateway.istio-system.svc.cluster.local", domains),
    )
    port = {"name": "http", "port": 80, "ingressPort": 443, "ingresses": ["private", "public"]}
    routing_input = RoutingInput(ports=(port,), revisions=(RouteRevision("main-1", 100),),
                                 default_ingress_ports={"private": "http", "public": "http"})  # fmt: skip
    inputs = AppInput(app="echo", target="production", fleet="production", routing=routing_input)
    release = _objects(inputs, cluster)["VirtualService"]["spec"]["http"][0]
    hosts = sorted(f"{name}.{domain}" for name in ("echo", "echo-production") for domain in domains)
    expected = "^(" + "|".join(sorted(host.replace(".", r"\.") for host in hosts)) + ")(:[0-9]+)?$"
    assert [match.get("authority", {}).get("regex") for match in release["match"]] == [None, expected, expected]
    assert "-" in expected and r"\-" not in expected


def test_dev_routes_send_requests_with_the_dev_header_to_the_dev_service() -> None:
    cluster = scenarios.cluster(
        "staging-reef-a", private=("private-gateway", ["medm.io", "staging.medm.io"]),
        enableDevRoutes=True, devRouteTagTemplate="dev-{{.App}}-tag",
    )  # fmt: skip
    settings = Settings(dev_routes_service_host="dev-routes-service-host", dev_routes_service_port=80)
    port = {"name": "http", "port": 80, "ingresses": ["private"]}
    routing_input = RoutingInput(ports=(port,), revisions=(RouteRevision("v1", 100),))
    inputs = AppInput(app="echo", target="staging", fleet="staging", routing=routing_input, settings=settings)
    routes = _objects(inputs, cluster)["VirtualService"]["spec"]["http"]
    assert routes[0] == {
        "name": "00_dev-echo",
        "match": [{"headers": {"dev-echo-tag": {"regex": "(.+)"}}}],
        "route": [{"destination": {"host": "dev-routes-service-host", "port": {"number": 80}}, "weight": 100}],
    }
    assert [route["name"] for route in routes] == ["00_dev-echo", "01_release-http"]


def test_dev_route_header_is_rendered_as_plain_text_not_html_escaped() -> None:
    """Deliberately differs from Picchu (§17 #21): Go's html/template would print `dev-a&amp;b`."""
    cluster = scenarios.cluster("c", enableDevRoutes=True, devRouteTagTemplate="dev-{{ .App }}")
    settings = Settings(dev_routes_service_host="dev", dev_routes_service_port=80)
    inputs = AppInput(app="a&b", target="t", fleet="t", settings=settings,
                      routing=RoutingInput(ports=({"name": "http", "port": 80},)))  # fmt: skip
    service = routing.virtual_service(inputs, cluster, inputs.routing or RoutingInput(ports=()))
    assert service is not None
    assert service["spec"]["http"][0]["match"] == [{"headers": {"dev-a&b": {"regex": "(.+)"}}}]


def test_a_dev_route_template_that_cannot_render_skips_the_route() -> None:
    cluster = scenarios.cluster("c", enableDevRoutes=True, devRouteTagTemplate="dev-{{.Nope}}")
    settings = Settings(dev_routes_service_host="dev", dev_routes_service_port=80)
    inputs = AppInput(app="a", target="t", fleet="t", settings=settings,
                      routing=RoutingInput(ports=({"name": "http", "port": 80},), revisions=(RouteRevision("v", 100),)))  # fmt: skip
    service = routing.virtual_service(inputs, cluster, inputs.routing or RoutingInput(ports=()))
    assert service is not None
    assert [route["name"] for route in service["spec"]["http"]] == ["01_release-http"]


def test_release_routes_carry_the_decided_weights_sorted_by_tag_and_skip_zero_weights() -> None:
    revisions = (RouteRevision("v3", 0, "X-Tag"), RouteRevision("v2", 70, "X-Tag"), RouteRevision("v1", 30))
    inputs = dataclasses.replace(
        scenarios.sync_new_app(), routing=RoutingInput(ports=({"name": "http", "port": 80},), revisions=revisions)
    )
    objects = _objects(inputs, scenarios.sync_new_app_cluster())
    routes = {route["name"]: route for route in objects["VirtualService"]["spec"]["http"]}
    assert list(routes) == ["00_tagged-v2-http", "00_tagged-v3-http", "01_release-http"]
    assert routes["01_release-http"]["route"] == [_destination(80, "v1", 30), _destination(80, "v2", 70)]
    assert [subset["name"] for subset in objects["DestinationRule"]["spec"]["subsets"]] == ["v1", "v2", "v3"]
    assert "trafficPolicy" not in objects["DestinationRule"]["spec"]["subsets"][0]


def test_nothing_routable_renders_no_virtual_service_and_no_revisions_no_destination_rule() -> None:
    inputs = dataclasses.replace(
        scenarios.sync_new_app(),
        routing=RoutingInput(ports=({"name": "http", "port": 80},), revisions=(RouteRevision("v1", 0),)),
    )
    assert "VirtualService" not in _objects(inputs, scenarios.sync_new_app_cluster())
    bare = dataclasses.replace(inputs, routing=RoutingInput(ports=({"name": "http", "port": 80},)))
    assert sorted(_objects(bare, scenarios.sync_new_app_cluster())) == ["Service"]


def test_fault_injector_faults_pass_through_to_routes_of_the_selected_port() -> None:
    """Istio's native fault JSON (§17 #17) reaches the VirtualService unchanged; last match wins."""
    fault = {"abort": {"httpStatus": 404, "percentage": {"value": 100}}}
    faults = ({"portSelector": {"number": 80}, "fault": {"delay": {"fixedDelay": "1s"}}},
              {"fault": {"abort": {"httpStatus": 500}}},
              {"portSelector": {"number": 80}, "fault": fault})  # fmt: skip
    inputs = dataclasses.replace(scenarios.sync_new_app(), faults=faults)
    routes = {r["name"]: r for r in _objects(inputs, scenarios.sync_new_app_cluster())["VirtualService"]["spec"]["http"]}
    assert routes["01_release-http"]["fault"] == fault
    assert routes["00_tagged-testtag-http"]["fault"] == fault
    assert "fault" not in routes["01_release-status"]


def test_go_quote_meta_escapes_regex_metacharacters_but_not_hyphens() -> None:
    assert quote_meta("a-b.c*d+e?f(g)h|i[j]k{l}m^n$o\\p") == r"a-b\.c\*d\+e\?f\(g\)h\|i\[j\]k\{l\}m\^n\$o\\p"


def test_a_bad_retry_timeout_is_reported_with_its_field_path() -> None:
    target = scenarios.sync_new_app_target()
    target["ports"][0]["istio"]["http"]["timeout"] = "three seconds"
    inputs = dataclasses.replace(
        scenarios.sync_new_app(), routing=RoutingInput.from_targets((target,), (RouteRevision("t", 100),))
    )
    with pytest.raises(RenderError) as error:
        render_cluster(inputs, scenarios.sync_new_app_cluster())
    assert error.value.errors[0][0] == "ports[http].istio.http.timeout"


@given(st.text(max_size=30))
def test_a_go_quoted_string_is_a_regex_matching_exactly_itself(text: str) -> None:
    assert re.fullmatch(quote_meta(text), text, flags=re.DOTALL)


@given(st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z0-9]{1,6}){1,3}", fullmatch=True),
                min_size=1, max_size=5, unique=True))  # fmt: skip
def test_the_authority_regex_matches_its_hosts_with_or_without_a_port_and_nothing_else(names: list[str]) -> None:
    regex = re.compile(hosts.authority_regex(names))
    for name in names:
        assert regex.fullmatch(name) and regex.fullmatch(f"{name}:8443")
        assert not regex.fullmatch(f"-{name}")
        unquoted_dot = name.replace(".", "x", 1)  # matches only if "." was left unescaped
        assert unquoted_dot in names or not regex.fullmatch(unquoted_dot)
