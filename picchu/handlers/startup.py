"""Start the operator or say in one sentence why it cannot, naming the file or setting and the fix.

A new user's first mistakes (a wrong --kubeconfig path, a file that is not a kubeconfig, an API server that is
not up, a port already taken) used to surface as a long traceback after the client's retries. Here each is
checked before anything starts and becomes a :class:`StartupError` whose message the CLI prints as is; the
traceback goes to the log at DEBUG level only.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import cast

from kubernetes import client, config

from picchu import logs
from picchu.settings import Settings

log = logging.getLogger(__name__)
PROBE_TIMEOUT_SECONDS = 10


class StartupError(Exception):
    """Why the operator cannot start, as one sentence with the fix."""


def run_checked(settings: Settings, kubeconfig: Path | None) -> None:
    logs.configure(settings.log_level)
    api = delivery_client(kubeconfig)
    probe(api, kubeconfig)
    from picchu.handlers.operator import run_operator

    try:
        run_operator(settings, api=api)
    except OSError as exc:  # a port that is taken or not ours to bind
        log.debug("start-up failed", exc_info=True)
        raise StartupError(f"cannot listen on --metrics-addr {settings.metrics_addr} / --health-addr "
                           f"{settings.health_addr}: {exc.strerror or exc}; choose free ports") from None


def delivery_client(kubeconfig: Path | None) -> client.ApiClient:
    """The delivery cluster's client: --kubeconfig, else the in-cluster service account, else ~/.kube/config."""
    if kubeconfig is not None:
        if not kubeconfig.is_file():
            raise StartupError(f"--kubeconfig {kubeconfig}: no such file; pass the delivery cluster's kubeconfig "
                               "(or PICCHU_KUBECONFIG), or leave it out to use the in-cluster service account")
        try:
            return cast(client.ApiClient, config.new_client_from_config(config_file=str(kubeconfig)))
        except Exception as exc:
            log.debug("cannot load the kubeconfig", exc_info=True)
            raise StartupError(f"--kubeconfig {kubeconfig} is not a usable kubeconfig ({_first_line(exc)}); "
                               "check that it has a current-context with a cluster and a user") from None
    try:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    except config.ConfigException:
        pass
    try:
        return cast(client.ApiClient, config.new_client_from_config())
    except Exception as exc:
        log.debug("no kubeconfig", exc_info=True)
        raise StartupError(f"no delivery cluster configured ({_first_line(exc)}); pass --kubeconfig FILE or run "
                           "inside a cluster") from None


def probe(api: client.ApiClient, kubeconfig: Path | None) -> None:
    """One GET /version with a short timeout and no retries, so an unreachable server fails in seconds."""
    source = f"--kubeconfig {kubeconfig}" if kubeconfig else "the configured cluster"
    host = api.configuration.host
    once = copy.deepcopy(api.configuration)
    once.retries = 0
    try:
        with client.ApiClient(once) as probing:
            client.VersionApi(probing).get_code(_request_timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        log.debug("the delivery cluster did not answer", exc_info=True)
        raise StartupError(f"the delivery cluster's API server {host} (from {source}) did not answer: "
                           f"{_first_line(exc)}; check that it is running and that {source} points at it") from None


def _first_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc).strip() or type(exc).__name__
    text = text.splitlines()[0]
    return text.rpartition("): ")[2][:200]  # urllib3 prefixes the connection object
