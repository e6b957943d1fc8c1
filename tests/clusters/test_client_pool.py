"""Client pool: one client per Cluster, rebuilt when credentials rotate, configuration errors that never leak them."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from picchu.clusters import ClientPool, ClusterConfigError
from picchu.clusters.connection import Redactor, credential_strings

TOKEN = "s3cr3t-token-value-0123456789"
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n").decode()


def cluster(name: str = "a", server: str = "https://127.0.0.1:1", hot_standby: bool = False) -> dict:
    return {"apiVersion": "picchu.medium.engineering/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": "picchu"},
            "spec": {"enabled": True, "hotStandby": hot_standby,
                     "config": {"server": server, "certificate-authority-data": CA}}}


def secret(name: str = "a", token: str = TOKEN, version: str = "1", raw: bytes | None = None) -> dict:
    payload = raw if raw is not None else json.dumps({"token": token}).encode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "picchu",
                                                               "resourceVersion": version},
            "data": {"auth-info": base64.b64encode(payload).decode()}}


def test_the_same_cluster_and_secret_version_reuse_one_client():
    pool = ClientPool(max_concurrency=4)
    first = pool.connect(cluster(), secret())
    assert pool.connect(cluster(), secret()) is first
    assert first.api.configuration.connection_pool_maxsize == 4
    assert first.api.configuration.host == "https://127.0.0.1:1"
    pool.close()


def test_a_rotated_secret_builds_a_new_client_and_closes_the_old_one_without_growing_the_cache():
    pool = ClientPool()
    first = pool.connect(cluster(), secret(version="1"))
    closed = []
    first.api.close = lambda: closed.append(True)  # observe the pool closing it
    second = pool.connect(cluster(), secret(token="rotated-token-987654", version="2"))
    assert second.api is not first.api and second.identity != first.identity
    assert closed == [True]
    assert len(pool) == 1
    pool.close()


def test_hot_standby_clusters_are_not_live_and_a_flag_change_needs_no_new_client():
    pool = ClientPool()
    live = pool.connect(cluster(), secret())
    standby = pool.connect(cluster(hot_standby=True), secret())
    assert live.live and not standby.live
    assert standby.api is live.api
    pool.close()


def test_clusters_that_disappeared_are_forgotten():
    pool = ClientPool()
    pool.connect(cluster("a"), secret("a"))
    pool.connect(cluster("b"), secret("b"))
    pool.retain([("picchu", "b")])
    assert len(pool) == 1


@pytest.mark.parametrize(("cluster_obj", "secret_obj", "field"), [
    (cluster(), None, "Secret picchu/a: missing"),
    (cluster(), secret(raw=b"{not json " + TOKEN.encode()), "data.auth-info: not valid JSON"),
    (cluster(), {"metadata": {"name": "a"}, "data": {"auth-info": "%%" + TOKEN}}, "data.auth-info: not valid base64"),
    ({**cluster(), "spec": {"config": {"certificate-authority-data": CA}}}, secret(), "spec.config.server: missing"),
    ({**cluster(), "spec": {"config": {"server": "https://x"}}}, secret(), "spec.config.certificate-authority-data"),
])
def test_bad_credentials_name_the_field_to_fix_and_never_quote_the_token(cluster_obj, secret_obj, field, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ClusterConfigError) as raised:
        ClientPool().connect(cluster_obj, secret_obj)
    assert field in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in caplog.text


def test_a_client_the_loader_rejects_is_reported_with_the_credentials_redacted():
    auth = {"client-certificate-data": "%%" + TOKEN, "client-key-data": "%%" + TOKEN}  # not base64
    with pytest.raises(ClusterConfigError) as raised:
        ClientPool().connect(cluster(), secret(raw=json.dumps(auth).encode()))
    assert "cannot build a client" in str(raised.value) and "Secret data.auth-info" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("user", [
    {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "touch", "args": ["{canary}"]}},
    {"auth-provider": {"name": "oidc", "config": {"id-token": TOKEN}}},
    {"tokenFile": "{canary}"},
    {"client-certificate": "{canary}", "client-key": "{canary}"},
])
def test_credentials_that_would_run_a_command_or_read_a_file_are_refused(user, tmp_path):
    canary = tmp_path / "ran"
    raw = json.dumps(user).replace("{canary}", str(canary)).encode()
    with pytest.raises(ClusterConfigError) as raised:
        ClientPool().connect(cluster(), secret(raw=raw))
    assert "not accepted" in str(raised.value) and TOKEN not in str(raised.value)
    assert not canary.exists()


def test_a_token_that_is_not_a_string_is_refused():
    with pytest.raises(ClusterConfigError, match="token must be a string"):
        ClientPool().connect(cluster(), secret(raw=json.dumps({"token": {"nested": TOKEN}}).encode()))


def test_the_redactor_removes_tokens_and_their_base64_forms_from_any_text():
    redact = Redactor(credential_strings({"token": TOKEN, "exec": {"args": ["--password", "hunter22"]}}))
    text = f"Authorization: Bearer {TOKEN} b64={base64.b64encode(TOKEN.encode()).decode()} pw=hunter22"
    assert TOKEN not in redact(text) and "hunter22" not in redact(text)
    assert redact(text).count("<redacted>") == 3


def test_a_static_token_is_sent_as_is_without_rerunning_the_config_loader_per_request():
    connection = ClientPool().connect(cluster(), secret())
    configuration = connection.api.configuration
    assert configuration.refresh_api_key_hook is None
    assert configuration.auth_settings()["BearerToken"]["value"] == f"Bearer {TOKEN}"
