"""Start the operator or say in one sentence why it cannot, naming the file or setting and the fix.

A new user's first mistakes (a wrong --kubeconfig path, a file that is not a kubeconfig, an API server that is
not up, a port already taken) used to surface as a long traceback after the client's retries. Here each is
checked before anything starts and becomes a :class:`StartupError` whose message the CLI prints as is; the
traceback goes to the log at DEBUG level only.
"""

from __future__ import annotations

import copy
import logging
import time
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
    wait_for_kinds(api, settings.namespace)
    from picchu.handlers import process
    from picchu.handlers.operator import run_operator

    process.tune()
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


def wait_for_kinds(api: client.ApiClient, namespace: str, timeout: float = 120.0) -> None:
    """Wait until the API server serves every kind picchu watches. Right after the CRDs are installed their
    storage initialises for a few seconds (HTTP 429/503); starting the watches then only produced ERROR lines.
    A kind that is not installed at all (404) is a StartupError naming the fix."""
    from kubernetes.client.exceptions import ApiException

    from picchu import keys
    from picchu.handlers.operator import KINDS

    custom = client.CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    announced = False
    for plural in KINDS:
        while True:
            try:
                if namespace:
                    custom.list_namespaced_custom_object(keys.GROUP, keys.VERSION, namespace, plural, limit=1,
                                                         _request_timeout=PROBE_TIMEOUT_SECONDS)
                else:
                    custom.list_cluster_custom_object(keys.GROUP, keys.VERSION, plural, limit=1,
                                                      _request_timeout=PROBE_TIMEOUT_SECONDS)
                break
            except ApiException as exc:
                if exc.status == 404:
                    raise StartupError(f"the delivery cluster does not serve {plural}.{keys.GROUP}: install "
                                       "picchu's CRDs with `kubectl apply -f config/crd/` (or the Helm chart)"
                                       ) from None
                if exc.status in (401, 403):
                    raise StartupError(f"the delivery cluster refused to list {plural}.{keys.GROUP} (HTTP "
                                       f"{exc.status}); grant picchu's ClusterRole (charts/picchu) to its "
                                       "credentials") from None
                if time.monotonic() > deadline:
                    raise StartupError(f"the delivery cluster did not serve {plural}.{keys.GROUP} within "
                                       f"{timeout:g}s (HTTP {exc.status} {exc.reason}); check the API server "
                                       "logs") from None
                if not announced:
                    log.info("waiting for the API server to serve picchu's kinds (HTTP %s %s)", exc.status,
                             exc.reason)
                    announced = True
                time.sleep(1)


def _first_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc).strip() or type(exc).__name__
    text = text.splitlines()[0]
    return text.rpartition("): ")[2][:200]  # urllib3 prefixes the connection object
