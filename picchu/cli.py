"""The `picchu` command line: run the operator, generate CRDs, simulate a rollout, run the demo.

Each command is a thin adapter: it parses flags and hands over to the module that does the work, imported
lazily so `picchu crds` does not pay for kopf and `picchu simulate` needs no cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


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


@app.command()
def run(
    namespace: Annotated[str | None, typer.Option(help="Watch one namespace (default: all)")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(help="Delivery cluster kubeconfig (default: in-cluster)")] = None,
    sync_period_seconds: Annotated[float | None, typer.Option()] = None,
    metrics_addr: Annotated[str | None, typer.Option()] = None,
    health_addr: Annotated[str | None, typer.Option()] = None,
    enable_leader_election: Annotated[bool | None, typer.Option("--enable-leader-election")] = None,
    leader_election_namespace: Annotated[
        str | None, typer.Option(help="Namespace of the leader Lease (default: --namespace, else the pod's own)")
    ] = None,
    prometheus_query_address: Annotated[str | None, typer.Option()] = None,
    prometheus_query_ttl_seconds: Annotated[
        float | None, typer.Option("--prometheus-query-ttl", parser=_seconds, metavar="DURATION", help='"10s" or 10')
    ] = None,
    prometheus_enabled: Annotated[bool | None, typer.Option("--prometheus-enabled/--prometheus-disabled")] = None,
    alert_failure_policy: Annotated[str | None, typer.Option(help="hold | fail-closed")] = None,
    datadog_api_key: Annotated[str | None, typer.Option(help="Turns on the Datadog canary-monitor check "
                                                       "(with --datadog-app-key; env DD_API_KEY)")] = None,
    datadog_app_key: Annotated[str | None, typer.Option(help="env DD_APP_KEY")] = None,
    datadog_site: Annotated[str | None, typer.Option(help='"datadoghq.eu", ... or a URL (env DD_SITE)')] = None,
    datadog_query_ttl_seconds: Annotated[
        float | None, typer.Option("--datadog-query-ttl", parser=_seconds, metavar="DURATION", help='"120s" or 120')
    ] = None,
    humane_releases_enabled: Annotated[bool | None, typer.Option("--humane-releases-enabled/--no-humane-releases")] = None,
    service_levels_namespace: Annotated[str | None, typer.Option()] = None,
    concurrent_revisions: Annotated[int | None, typer.Option()] = None,
    concurrent_release_managers: Annotated[int | None, typer.Option()] = None,
    dev_routes_service_host: Annotated[str | None, typer.Option()] = None,
    dev_routes_service_port: Annotated[int | None, typer.Option()] = None,
    cluster_prometheus_address: Annotated[str | None, typer.Option()] = None,
    log_level: Annotated[str | None, typer.Option()] = None,
    slack_query_ttl_seconds: Annotated[
        float | None, typer.Option("--slack-query-ttl", parser=_seconds, metavar="DURATION", help='"120s" or 120')
    ] = None,
    cluster_timeout_seconds: Annotated[float | None, typer.Option(help="Per target cluster, per observe/apply")] = None,
    release_timezone: Annotated[str | None, typer.Option(help="IANA zone of release schedules")] = None,
    holiday_calendar: Annotated[str | None, typer.Option(help='`holidays` country[-subdivision], "" for none')] = None,
    service_levels_fleet: Annotated[str | None, typer.Option(help="Accepted for Picchu compatibility; unused")] = None,
    manage_route53: Annotated[bool, typer.Option("--manage-route53", help="Accepted for Picchu compatibility; unused")
                              ] = False,
) -> None:
    """Run the operator against the delivery cluster."""
    from picchu.handlers.operator import run_operator
    from picchu.monitoring.alerts import AlertFailurePolicy
    from picchu.settings import Settings

    try:
        policy = AlertFailurePolicy(alert_failure_policy) if alert_failure_policy else None
        settings = Settings.from_env(
            namespace=namespace,
            sync_period_seconds=sync_period_seconds,
            metrics_addr=metrics_addr,
            health_addr=health_addr,
            enable_leader_election=enable_leader_election,
            leader_election_namespace=leader_election_namespace,
            prometheus_query_address=prometheus_query_address,
            prometheus_query_ttl_seconds=prometheus_query_ttl_seconds,
            prometheus_enabled=prometheus_enabled,
            alert_failure_policy=policy,
            datadog_api_key=datadog_api_key,
            datadog_app_key=datadog_app_key,
            datadog_site=datadog_site,
            datadog_query_ttl_seconds=datadog_query_ttl_seconds,
            humane_releases_enabled=humane_releases_enabled,
            service_levels_namespace=service_levels_namespace,
            concurrent_revisions=concurrent_revisions,
            concurrent_release_managers=concurrent_release_managers,
            dev_routes_service_host=dev_routes_service_host,
            dev_routes_service_port=dev_routes_service_port,
            cluster_prometheus_address=cluster_prometheus_address,
            log_level=log_level,
            slack_query_ttl_seconds=slack_query_ttl_seconds,
            cluster_timeout_seconds=cluster_timeout_seconds,
            release_timezone=release_timezone,
            holiday_calendar=holiday_calendar,
            service_levels_fleet=service_levels_fleet,
        )
    except ValueError as exc:
        choices = ", ".join(p.value for p in AlertFailurePolicy)
        hint = f" (--alert-failure-policy takes one of: {choices})" if "AlertFailurePolicy" in str(exc) else ""
        typer.echo(f"picchu run: {exc}{hint}", err=True)
        raise typer.Exit(2) from None
    problems = settings.problems()
    if problems:
        for problem in problems:
            typer.echo(f"picchu run: {problem}", err=True)
        raise typer.Exit(2)
    run_operator(settings, kubeconfig=kubeconfig)


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="Keep the clusters running after the rollout")] = False,
) -> None:
    """Bring up three local clusters, run the operator, roll out a sample app and show the progress."""
    from picchu.demo import run_demo

    run_demo(keep=keep)


if __name__ == "__main__":
    app()
