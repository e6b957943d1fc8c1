"""The `picchu` command line (also `kubectl picchu`): run the operator, follow and steer releases, render,
simulate, plot, generate CRDs, run the demo.

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
    plot: Annotated[Path | None, typer.Option(help="Also draw the timeline to this PNG file")] = None,
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
        plot=plot,
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
    shards: Annotated[int, _opt("shards", "Split the apps over this many processes (each app hashes to one; "
                                "each shard elects its own leader on Lease picchu-shard-K-of-M)")
                      ] = _DEFAULTS.shards,
    shard_index: Annotated[int, _opt("shard_index", "Which shard this process is: 0 to --shards - 1 (shard 0 "
                                     "also runs the Cluster and ClusterSecrets passes)")
                           ] = _DEFAULTS.shard_index,
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
    drift_check_after_seconds: Annotated[float, _opt(
        "drift_check_after", 'How long a written object is trusted before it is read back, and rewritten if '
        'someone changed it: "15m" or 900 (prune scopes are listed again after 4 times that)',
        "--drift-check-after", parser=_seconds, metavar="DURATION")] = _DEFAULTS.drift_check_after_seconds,
    drift_reads_per_second: Annotated[float, _opt(
        "drift_reads_per_second", "At most this many of those reads per second, all target clusters together, per "
        "process (a due check waits its turn, so idle reads do not grow with the number of apps)")
    ] = _DEFAULTS.drift_reads_per_second,
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
        shards=shards, shard_index=shard_index,
        prometheus_query_ttl_seconds=prometheus_query_ttl_seconds, prometheus_enabled=prometheus_enabled,
        alert_failure_policy=alert_failure_policy, humane_releases_enabled=humane_releases_enabled,
        datadog_api_key=datadog_api_key, datadog_app_key=datadog_app_key, datadog_site=datadog_site,
        datadog_query_ttl_seconds=datadog_query_ttl_seconds,
        service_levels_namespace=service_levels_namespace, concurrent_revisions=concurrent_revisions,
        concurrent_release_managers=concurrent_release_managers, dev_routes_service_host=dev_routes_service_host,
        dev_routes_service_port=dev_routes_service_port, cluster_prometheus_address=cluster_prometheus_address,
        log_level=log_level, slack_query_ttl_seconds=slack_query_ttl_seconds, slack_channel=slack_channel,
        cluster_timeout_seconds=cluster_timeout_seconds, drift_check_after_seconds=drift_check_after_seconds,
        drift_reads_per_second=drift_reads_per_second, release_timezone=release_timezone,
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
    plot: Annotated[str, typer.Option(help="Where to write the timeline PNG")] = "picchu-demo-timeline.png",
) -> None:
    """Bring up three local clusters, run the operator, roll out a sample app and show the progress."""
    from picchu.demo import run_demo

    run_demo(keep=keep, plot_path=plot)


# -- following and steering releases (picchu.ctl) ---------------------------------------------------------
KubeconfigOpt = Annotated[Path | None, typer.Option("--kubeconfig", help="Delivery cluster kubeconfig (default: $KUBECONFIG, ~/.kube/config)")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace of the Revisions (default: the context's, else picchu)")]
ContextOpt = Annotated[str | None, typer.Option("--context", help="kubeconfig context")]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", help="json | yaml (default: a table)")]


def _delivery(kubeconfig: Path | None, namespace: str | None, context: str | None) -> Any:
    from picchu.ctl.delivery import Delivery

    try:
        return Delivery.connect(kubeconfig, namespace, context)
    except Exception as exc:
        typer.echo(f"picchu: cannot read the kubeconfig: {exc}", err=True)
        raise typer.Exit(2) from None


def _fail(exc: Exception | str, code: int = 2) -> typer.Exit:
    typer.echo(f"picchu: {exc}", err=True)
    return typer.Exit(code)


def _print_data(data: Any, output: str) -> None:
    import json

    import yaml

    if output == "json":
        typer.echo(json.dumps(data, indent=2, default=str))
    elif output == "yaml":
        typer.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    else:
        raise typer.BadParameter(f"--output {output!r}: use json or yaml")


@app.command()
def status(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="App name (spec.app.name of its Revisions)")],
    target: Annotated[str | None, typer.Option(help="Only this target")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until Ctrl-C")] = False,
    output: OutputOpt = None,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes with --watch")] = 2.0,
    kubeconfig: KubeconfigOpt = None, namespace: NamespaceOpt = None, context: ContextOpt = None,
) -> None:
    """Show every cluster, tag, percent, pods, alerts, why a release holds and when it moves next."""
    import time

    from rich.console import Console
    from rich.live import Live

    from picchu.ctl.delivery import NotFound
    from picchu.ctl.status import collect, render

    delivery = _delivery(kubeconfig, namespace, context)
    try:
        if output:
            _print_data(collect(delivery, app_name, target), output)
            return
        console = Console()
        if not watch:
            console.print(render(collect(delivery, app_name, target)))
            return
        with Live(console=console, refresh_per_second=1) as live:
            while True:
                live.update(render(collect(delivery, app_name, target)))
                time.sleep(interval)
    except NotFound as exc:
        raise _fail(exc, 1) from None
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # ApiException, connection refused...: a message, not a traceback
        raise _fail(f"cannot read the cluster: {type(exc).__name__}: {exc}") from None
    finally:
        delivery.close()


@app.command(name="wait")
def wait_command(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Revision name, e.g. echo-v2")],
    for_: Annotated[str, typer.Option("--for", help="released | failed | any state name")] = "released",
    timeout: Annotated[float, typer.Option(parser=_seconds, metavar="DURATION", help='"10m", "90s" or seconds')
                       ] = 1800.0,
    target: Annotated[str | None, typer.Option(help="Only this target (default: every target)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the outcome")] = False,
    kubeconfig: KubeconfigOpt = None, namespace: NamespaceOpt = None, context: ContextOpt = None,
) -> None:
    """Wait for a release outcome: exit 0 when reached, 1 when failed or rolled back, 2 on timeout."""
    from picchu.ctl.wait import wait_for

    delivery = _delivery(kubeconfig, namespace, context)
    try:
        outcome = wait_for(delivery, revision, for_, timeout, target,
                           progress=None if quiet else (lambda text: typer.echo(f"  {text}", err=True)))
    finally:
        delivery.close()
    typer.echo(outcome.message, err=outcome.code != 0)
    raise typer.Exit(outcome.code)


def _steer(action: str, revision: str, reason: str, full: bool, kubeconfig: Path | None, namespace: str | None,
           context: str | None) -> None:
    from picchu.ctl.delivery import NotFound
    from picchu.ctl.steer import steer

    delivery = _delivery(kubeconfig, namespace, context)
    try:
        typer.echo(steer(delivery, revision, action, reason=reason, full=full))
    except NotFound as exc:
        raise _fail(exc, 1) from None
    finally:
        delivery.close()


RevisionArg = Annotated[str, typer.Argument(metavar="REVISION", help="Revision name, e.g. echo-v2")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the Event)")]


@app.command()
def abort(revision: RevisionArg, reason: ReasonOpt = "", kubeconfig: KubeconfigOpt = None,
          namespace: NamespaceOpt = None, context: ContextOpt = None) -> None:
    """Fail the revision now (spec.failed): its traffic goes back to the previous release."""
    _steer("abort", revision, reason, False, kubeconfig, namespace, context)


@app.command()
def retry(revision: RevisionArg, reason: ReasonOpt = "", kubeconfig: KubeconfigOpt = None,
          namespace: NamespaceOpt = None, context: ContextOpt = None) -> None:
    """Clear a failure: the revision deploys and rolls out again (firing alerts can fail it again)."""
    _steer("retry", revision, reason, False, kubeconfig, namespace, context)


@app.command()
def pause(revision: RevisionArg, reason: ReasonOpt = "", kubeconfig: KubeconfigOpt = None,
          namespace: NamespaceOpt = None, context: ContextOpt = None) -> None:
    """Hold the revision's ramp (and canary) at its current percent; alerts still roll it back."""
    _steer("pause", revision, reason, False, kubeconfig, namespace, context)


@app.command()
def resume(revision: RevisionArg, reason: ReasonOpt = "", kubeconfig: KubeconfigOpt = None,
           namespace: NamespaceOpt = None, context: ContextOpt = None) -> None:
    """Let a paused revision ramp again."""
    _steer("resume", revision, reason, False, kubeconfig, namespace, context)


@app.command()
def promote(revision: RevisionArg,
            full: Annotated[bool, typer.Option("--full", help="Skip every remaining wait up to release.max")] = False,
            reason: ReasonOpt = "", kubeconfig: KubeconfigOpt = None, namespace: NamespaceOpt = None,
            context: ContextOpt = None) -> None:
    """Skip the rest of the canary TTL or the ramp delay for one step (or all of them with --full).
    The capacity gate, the release window and alerts still apply."""
    _steer("promote", revision, reason, full, kubeconfig, namespace, context)


@app.command()
def render(
    subject: Annotated[str, typer.Argument(metavar="REVISION|FILE", help="Revision name, or a Revision manifest file")],
    cluster: Annotated[str | None, typer.Option(help="Only this cluster")] = None,
    show_diff: Annotated[bool, typer.Option("--diff", help="Show the difference from the live objects "
                                                           "(server-side dry-run apply); exit 1 when any")] = False,
    kubeconfig: KubeconfigOpt = None, namespace: NamespaceOpt = None, context: ContextOpt = None,
) -> None:
    """Print the objects the operator's next pass would write for the revision's app, per cluster."""
    from picchu.ctl.delivery import NotFound
    from picchu.ctl.render import diff, render_plans, to_yaml

    delivery = _delivery(kubeconfig, namespace, context)
    try:
        renders = render_plans(delivery, subject, cluster)
        if not show_diff:
            typer.echo(to_yaml(renders), nl=False)
            return
        text, changed = diff(renders)
        typer.echo(text, nl=False)
        if changed:
            raise typer.Exit(1)
    except NotFound as exc:
        raise _fail(exc, 2) from None
    finally:
        delivery.close()


@app.command()
def history(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    target: Annotated[str | None, typer.Option(help="Target (default: the first)")] = None,
    plot: Annotated[Path | None, typer.Option(help="Draw the timeline to this PNG file")] = None,
    kubeconfig: KubeconfigOpt = None, namespace: NamespaceOpt = None, context: ContextOpt = None,
) -> None:
    """What happened to the app's releases (from the ReleaseManager status and Events), optionally drawn."""
    from picchu.ctl.delivery import NotFound
    from picchu.ctl.history import build, describe
    from picchu.ctl.timeline import plot as draw

    delivery = _delivery(kubeconfig, namespace, context)
    try:
        timeline = build(delivery, app_name, target)
    except NotFound as exc:
        raise _fail(exc, 1) from None
    finally:
        delivery.close()
    for line in describe(timeline):
        typer.echo(line)
    if plot is not None:
        try:
            draw(timeline, plot)
        except (ValueError, OSError) as exc:
            raise _fail(exc, 1) from None
        typer.echo(f"timeline written to {plot}")


if __name__ == "__main__":
    app()
