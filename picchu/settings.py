"""Process configuration: Picchu's flags and defaults (spec §4.1) plus the choices this operator adds.

Every setting has one field here; `picchu run` fills it from flags, each flag falls back to an environment
variable `PICCHU_<NAME>` (typer's `envvar=`, shown by `--help`), then to Picchu's default; secrets come from
the environment only (`SLACK_TOKEN` as in Picchu, `PICCHU_SENTRY_DSN`), Datadog's keys from `DD_API_KEY` /
`DD_APP_KEY` (or the flags). The pure core never
reads this module: the engine passes the few values it needs as arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from picchu.monitoring.alerts import AlertFailurePolicy


@dataclass(frozen=True)
class Settings:
    # Picchu flags (§4.1)
    metrics_addr: str = ":8383"
    enable_leader_election: bool = False
    leader_election_id: str = "de705aec.picchu.medium.engineering"
    sync_period_seconds: float = 15.0
    prometheus_query_address: str = ""
    prometheus_query_ttl_seconds: float = 10.0
    prometheus_enabled: bool = True
    slack_query_ttl_seconds: float = 120.0
    humane_releases_enabled: bool = True
    service_levels_namespace: str = "service-level-objectives"
    service_levels_fleet: str = "delivery"
    concurrent_revisions: int = 20
    concurrent_release_managers: int = 50
    dev_routes_service_host: str = ""
    dev_routes_service_port: int = 80
    cluster_prometheus_address: str = ""
    # Choices this operator adds
    namespace: str = ""  # watch one namespace of the delivery cluster ("" = all namespaces)
    health_addr: str = ":8080"  # /healthz (liveness) and /readyz (readiness)
    leader_election_namespace: str = ""  # Lease namespace; "" = `namespace`, else the pod's own, else "picchu"
    shards: int = 1  # split the apps over this many processes (handlers.shards)
    shard_index: int = 0  # which of them this process is
    alert_failure_policy: AlertFailurePolicy = AlertFailurePolicy.HOLD
    cluster_timeout_seconds: float = 10.0  # per target cluster, per observe/apply
    drift_check_after_seconds: float = 900.0  # a written object is read back (and healed) after this long
    drift_reads_per_second: float = 5.0  # those reads and prune re-listings, all target clusters, per process
    release_timezone: str = "America/Los_Angeles"
    holiday_calendar: str = "US-CA"  # `holidays` country[-subdivision], or "" for none
    slack_token: str = field(default="", repr=False)
    slack_channel: str = ""
    slack_base_url: str = "https://slack.com/api/"
    sentry_dsn: str = field(default="", repr=False)
    # Datadog canary-monitor source (§9.8), on when both keys are set; combined with Prometheus.
    datadog_api_key: str = field(default="", repr=False)
    datadog_app_key: str = field(default="", repr=False)
    datadog_site: str = "datadoghq.com"  # a Datadog site, or a full URL (e.g. a local endpoint)
    datadog_query_ttl_seconds: float = 120.0  # Picchu cached the Events API answer 120 s
    log_level: str = "INFO"

    @property
    def alert_query_address(self) -> str:
        """`--prometheus-enabled=false` forces the query address to "" (alerts ignored), as in Picchu."""
        return self.prometheus_query_address if self.prometheus_enabled else ""

    @property
    def datadog_enabled(self) -> bool:
        return bool(self.datadog_api_key and self.datadog_app_key)

    @property
    def datadog_host(self) -> str:
        """The Datadog API base URL: `https://api.«site»`, or the site itself when it is a URL."""
        site = self.datadog_site.strip().rstrip("/")
        return site if site.startswith(("http://", "https://")) else f"https://api.{site}"

    def problems(self) -> list[str]:
        """What is wrong with these settings, each as what to write instead ([] when the process can start)."""
        found = []
        if bool(self.datadog_api_key) != bool(self.datadog_app_key):
            missing = "--datadog-app-key (DD_APP_KEY)" if self.datadog_api_key else "--datadog-api-key (DD_API_KEY)"
            found.append(f"the Datadog canary check needs both keys: set {missing} too, or neither")
        if not isinstance(logging.getLevelName(self.log_level.upper()), int):
            found.append(f"--log-level {self.log_level!r}: use DEBUG, INFO, WARNING or ERROR")
        for flag, value in (("--metrics-addr", self.metrics_addr), ("--health-addr", self.health_addr)):
            port = value.rpartition(":")[2]
            if not port.isdigit() or int(port) > 65535:
                found.append(f"{flag} {value!r}: use [host]:port, e.g. ':8383'")
        for flag, number, least in (("--sync-period-seconds", self.sync_period_seconds, 0.1),
                                    ("--cluster-timeout-seconds", self.cluster_timeout_seconds, 0.1),
                                    ("--drift-check-after", self.drift_check_after_seconds, 1),
                                    ("--drift-reads-per-second", self.drift_reads_per_second, 0.01),
                                    ("--prometheus-query-ttl", self.prometheus_query_ttl_seconds, 0),
                                    ("--datadog-query-ttl", self.datadog_query_ttl_seconds, 0),
                                    ("--concurrent-revisions", self.concurrent_revisions, 1),
                                    ("--concurrent-release-managers", self.concurrent_release_managers, 1)):
            if number < least:
                found.append(f"{flag} {number}: use {least} or more")
        if self.shards < 1:
            found.append(f"--shards {self.shards}: use 1 or more")
        elif not 0 <= self.shard_index < self.shards:
            found.append(f"--shard-index {self.shard_index}: use 0 to {self.shards - 1} (one per --shards)")
        try:
            ZoneInfo(self.release_timezone)
        except (ValueError, ZoneInfoNotFoundError):
            found.append(f"--release-timezone {self.release_timezone!r}: use an IANA zone like 'America/Los_Angeles'")
        if self.holiday_calendar:
            from picchu.engine.calendar import UnknownHolidayCalendar, holiday_dates

            try:
                holiday_dates(self.holiday_calendar)
            except UnknownHolidayCalendar:
                found.append(f"--holiday-calendar {self.holiday_calendar!r}: use COUNTRY[-SUBDIVISION] as the "
                             "`holidays` package names them (e.g. 'US-CA', 'GB'), or '' for no holidays")
        return found
