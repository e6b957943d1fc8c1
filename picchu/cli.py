"""The `picchu` command line: run the operator, generate CRDs, simulate a rollout, run the demo.

Each command is a thin adapter: it parses flags and hands over to the module that does the work, imported
lazily so `picchu crds` does not pay for kopf and `picchu simulate` needs no cluster.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer

from picchu.monitoring.alerts import AlertFailurePolicy
from picchu.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="picchu: multi-cluster progressive delivery for Kubernetes, wire-compatible with Picchu.")


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"picchu {version('picchu')}")
        except PackageNotFoundError:
            typer.echo("picchu (not installed as a package)")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[bool, typer.Option("--version", help="Print the version and exit", callback=_version,
                                               is_eager=True)] = False,
) -> None:
    """picchu: multi-cluster progressive delivery for Kubernetes, wire-compatible with Picchu."""


@app.command()
def crds(out: Annotated[Path, typer.Option(help="Directory to write the CRD YAML files to")] = Path("config/crd")) -> None:
    """Write the CustomResourceDefinitions generated from the API models."""
    from picchu.api.v1alpha1.crdgen import write_crds

    for path in write_crds(out):
        typer.echo(f"wrote {path}")


@app.command()
def simulate(
    manifests: Annotated[list[Path], typer.Argument(help="Revision manifests (YAML), oldest first")],
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help='e.g. "12m: fail v2", "5m: unreachable b"')
    ] = None,
    clusters: Annotated[str, typer.Option(help="Live clusters, name[=scalingFactor], comma separated")] = "a,b",
    target: Annotated[str, typer.Option(help="Target name to simulate")] = "production",
    minutes: Annotated[float, typer.Option(help="How long to simulate")] = 30.0,
    period: Annotated[float, typer.Option(help="Seconds between passes (--sync-period-seconds)")] = 15.0,
    pod_ready_seconds: Annotated[float, typer.Option(help="Seconds until a new pod is ready")] = 20.0,
    start: Annotated[str | None, typer.Option(help="Start time, RFC3339 (default: now)")] = None,
    every_pass: Annotated[bool, typer.Option(help="Print every pass, not only the ones that change something")] = False,
) -> None:
    """Print the rollout timeline a release policy would produce, with no cluster at all."""
    from picchu.simulation import simulate_command

    raise typer.Exit(simulate_command(
        manifests,
        event or [],
        clusters=clusters,
        target=target,
        minutes=minutes,
        period=period,
        pod_ready_seconds=pod_ready_seconds,
        start=start,
        every_pass=every_pass,
    ))


def _seconds(text: str) -> float:
    """Seconds from a Go duration as Picchu's flags take it ("10s", "1m30s") or a plain number."""
    from picchu.api.v1alpha1.durations import parse_duration

    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: use a duration like 10s or 1m30s, or a number of seconds") from exc


_DEFAULTS = Settings()
_ENV_ONLY = """Secrets are read from the environment only (never from flags, which other users of the machine can
see): SLACK_TOKEN or PICCHU_SLACK_TOKEN (Slack bot token; none means no Slack notifications),
PICCHU_SENTRY_DSN (Sentry DSN; none means no Sentry), PICCHU_SLACK_BASE_URL (Slack API URL, for tests)."""


def _opt(name: str, help: str, *decls: str, shown: str | None = None, **kwargs: Any) -> Any:
    """An option of `picchu run` that also reads PICCHU_<NAME> and shows its default and variable in --help
    (`shown` spells out defaults --help would leave blank: empty strings and false flags)."""
    if shown is not None:
        kwargs["show_default"] = shown
    return typer.Option(*decls, help=help, envvar=f"PICCHU_{name.upper()}", show_envvar=True, **kwargs)


@app.command(epilog=_ENV_ONLY)
def run(
    namespace: Annotated[str, _opt("namespace", 'Watch one namespace of the delivery cluster', shown="all namespaces")
                         ] = _DEFAULTS.namespace,
    kubeconfig: Annotated[Path | None, _opt("kubeconfig", "Delivery cluster kubeconfig (default: in-cluster "
                                            "service account, else ~/.kube/config)", shown="in-cluster")] = None,
    sync_period_seconds: Annotated[float, _opt("sync_period_seconds", "Seconds between passes over each object")
                                   ] = _DEFAULTS.sync_period_seconds,
    metrics_addr: Annotated[str, _opt("metrics_addr", "host:port of the Prometheus /metrics endpoint")
                            ] = _DEFAULTS.metrics_addr,
    health_addr: Annotated[str, _opt("health_addr", "host:port of /healthz and /readyz")] = _DEFAULTS.health_addr,
    enable_leader_election: Annotated[bool, _opt("enable_leader_election", "Wait for the leader Lease before "
                                                 "acting (run several replicas)", "--enable-leader-election",
                                                 shown="off")
                                      ] = _DEFAULTS.enable_leader_election,
    leader_election_namespace: Annotated[str, _opt(
        "leader_election_namespace", 'Namespace of the leader Lease', shown="--namespace, else the pod's own")
    ] = _DEFAULTS.leader_election_namespace,
    prometheus_query_address: Annotated[str, _opt(
        "prometheus_query_address", 'Prometheus/Thanos URL queried for SLO alerts ("" = alerts never fail a '
        "release)", shown='""')] = _DEFAULTS.prometheus_query_address,
    prometheus_query_ttl_seconds: Annotated[float, _opt(
        "prometheus_query_ttl", 'How long an alert query answer is reused: "10s" or 10', "--prometheus-query-ttl",
        parser=_seconds, metavar="DURATION")] = _DEFAULTS.prometheus_query_ttl_seconds,
    prometheus_enabled: Annotated[bool, _opt("prometheus_enabled", "Query Prometheus for SLO alerts at all",
                                             "--prometheus-enabled/--prometheus-disabled")
                                  ] = _DEFAULTS.prometheus_enabled,
    alert_failure_policy: Annotated[AlertFailurePolicy, _opt(
        "alert_failure_policy", "When alerts cannot be read: hold the ramp, or fail-closed (roll back)",
        case_sensitive=False)] = _DEFAULTS.alert_failure_policy,
    datadog_api_key: Annotated[str, typer.Option(
        help="Datadog API key: turns on the Datadog canary-monitor check with --datadog-app-key (prefer the "
        "environment: flags are visible to other users of the machine)",
        envvar=["PICCHU_DATADOG_API_KEY", "DD_API_KEY"], show_envvar=True, show_default="not set")] = "",
    datadog_app_key: Annotated[str, typer.Option(
        help="Datadog application key (see --datadog-api-key)",
        envvar=["PICCHU_DATADOG_APP_KEY", "DD_APP_KEY"], show_envvar=True, show_default="not set")] = "",
    datadog_site: Annotated[str, typer.Option(
        help='Datadog site ("datadoghq.eu", ...) or a URL', envvar=["PICCHU_DATADOG_SITE", "DD_SITE"],
        show_envvar=True)] = _DEFAULTS.datadog_site,
    datadog_query_ttl_seconds: Annotated[float, _opt(
        "datadog_query_ttl", 'How long a Datadog Events answer is reused: "120s" or 120', "--datadog-query-ttl",
        parser=_seconds, metavar="DURATION")] = _DEFAULTS.datadog_query_ttl_seconds,
    humane_releases_enabled: Annotated[bool, _opt(
        "humane_releases_enabled", "Honour release schedules (humane/inhumane windows, holidays)",
        "--humane-releases-enabled/--no-humane-releases")] = _DEFAULTS.humane_releases_enabled,
    service_levels_namespace: Annotated[str, _opt(
        "service_levels_namespace", "Namespace of the PrometheusServiceLevels in each cluster")
    ] = _DEFAULTS.service_levels_namespace,
    concurrent_revisions: Annotated[int, _opt("concurrent_revisions", "Revision passes run at once")
                                    ] = _DEFAULTS.concurrent_revisions,
    concurrent_release_managers: Annotated[int, _opt("concurrent_release_managers",
                                                     "ReleaseManager passes run at once")
                                           ] = _DEFAULTS.concurrent_release_managers,
    dev_routes_service_host: Annotated[str, _opt("dev_routes_service_host", 'Host of the dev-routes service ("" = '
                                                 "no dev routes)", shown='""')] = _DEFAULTS.dev_routes_service_host,
    dev_routes_service_port: Annotated[int, _opt("dev_routes_service_port", "Port of the dev-routes service")
                                       ] = _DEFAULTS.dev_routes_service_port,
    cluster_prometheus_address: Annotated[str, _opt(
        "cluster_prometheus_address", "In-cluster Prometheus URL used by waypoint autoscalers", shown='""')
    ] = _DEFAULTS.cluster_prometheus_address,
    log_level: Annotated[str, _opt("log_level", "DEBUG, INFO, WARNING or ERROR (DEBUG adds tracebacks)")
                         ] = _DEFAULTS.log_level,
    slack_query_ttl_seconds: Annotated[float, _opt(
        "slack_query_ttl", 'How long Slack channel history is reused: "120s" or 120', "--slack-query-ttl",
        parser=_seconds, metavar="DURATION")] = _DEFAULTS.slack_query_ttl_seconds,
    slack_channel: Annotated[str, _opt("slack_channel", "Slack channel for rollout notifications (needs SLACK_TOKEN)",
                                               shown='""')
                             ] = _DEFAULTS.slack_channel,
    cluster_timeout_seconds: Annotated[float, _opt("cluster_timeout_seconds",
                                                   "Seconds per target cluster, per observe/apply")
                                       ] = _DEFAULTS.cluster_timeout_seconds,
    release_timezone: Annotated[str, _opt("release_timezone", "IANA zone of release schedules")
                                ] = _DEFAULTS.release_timezone,
    holiday_calendar: Annotated[str, _opt("holiday_calendar", '`holidays` COUNTRY[-SUBDIVISION], "" for none')
                                ] = _DEFAULTS.holiday_calendar,
    service_levels_fleet: Annotated[str, _opt("service_levels_fleet", "Accepted for Picchu compatibility; unused")
                                    ] = _DEFAULTS.service_levels_fleet,
    manage_route53: Annotated[bool, _opt("manage_route53", "Accepted for Picchu compatibility; unused",
                                         "--manage-route53", shown="off")] = False,
) -> None:
    """Run the operator against the delivery cluster."""
    import os

    from picchu.handlers.startup import StartupError, run_checked

    env = os.environ
    settings = Settings(
        namespace=namespace, sync_period_seconds=sync_period_seconds, metrics_addr=metrics_addr,
        health_addr=health_addr, enable_leader_election=enable_leader_election,
        leader_election_namespace=leader_election_namespace, prometheus_query_address=prometheus_query_address,
        prometheus_query_ttl_seconds=prometheus_query_ttl_seconds, prometheus_enabled=prometheus_enabled,
        alert_failure_policy=alert_failure_policy, humane_releases_enabled=humane_releases_enabled,
        datadog_api_key=datadog_api_key, datadog_app_key=datadog_app_key, datadog_site=datadog_site,
        datadog_query_ttl_seconds=datadog_query_ttl_seconds,
        service_levels_namespace=service_levels_namespace, concurrent_revisions=concurrent_revisions,
        concurrent_release_managers=concurrent_release_managers, dev_routes_service_host=dev_routes_service_host,
        dev_routes_service_port=dev_routes_service_port, cluster_prometheus_address=cluster_prometheus_address,
        log_level=log_level, slack_query_ttl_seconds=slack_query_ttl_seconds, slack_channel=slack_channel,
        cluster_timeout_seconds=cluster_timeout_seconds, release_timezone=release_timezone,
        holiday_calendar=holiday_calendar, service_levels_fleet=service_levels_fleet,
        slack_token=env.get("PICCHU_SLACK_TOKEN") or env.get("SLACK_TOKEN", ""),
        sentry_dsn=env.get("PICCHU_SENTRY_DSN", ""),
        slack_base_url=env.get("PICCHU_SLACK_BASE_URL") or _DEFAULTS.slack_base_url,
    )
    problems = settings.problems()
    if problems:
        for problem in problems:
            typer.echo(f"picchu run: {problem}", err=True)
        raise typer.Exit(2)
    try:
        run_checked(settings, kubeconfig)
    except StartupError as exc:
        typer.echo(f"picchu run: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="Keep the clusters running after the rollout (until Ctrl-C) and their work directory")] = False,
) -> None:
    """Bring up three local clusters, run the operator, roll out a sample app and show the progress."""
    from picchu.demo import run_demo

    run_demo(keep=keep)


if __name__ == "__main__":
    app()
