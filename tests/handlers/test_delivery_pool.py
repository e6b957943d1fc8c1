"""The delivery client keeps one connection per pass thread: the pool size must reach urllib3's pool.

Why: the size used to be set on the configuration after the client (and its pool) was built, so it did
nothing and urllib3 discarded connections with a warning per request under load.
"""

from __future__ import annotations

from kubernetes import client

from picchu.engine.assembly import CONNECTION_SLACK, size_delivery_pool


def test_the_pool_size_reaches_the_connection_pool_of_the_client() -> None:
    configuration = client.Configuration()
    configuration.host = "https://127.0.0.1:1"
    api = client.ApiClient(configuration)
    size_delivery_pool(api, 12)
    assert api.configuration.connection_pool_maxsize == 12 + CONNECTION_SLACK
    assert api.rest_client.pool_manager.connection_pool_kw["maxsize"] == 12 + CONNECTION_SLACK
