"""One TLS context per API client, shared by all its connections.

Why: the kubernetes client hands urllib3 the CA and client-certificate files, and urllib3 then builds a new
TLS context for every connection it opens and loads those files into it again. With the operator's pools
sized to its concurrency, a burst of 500 apps opened ~230 connections, each with its own context: ~96 KiB
per connection instead of ~64 with one shared context (measured, 100 connections to a local apiserver), plus
the CPU of building and loading each context. The shared context is built exactly as urllib3 builds its own
(`create_urllib3_context` with the client's certificate checking), so server and hostname verification are
unchanged.
"""

from __future__ import annotations

import ssl

from kubernetes import client
from urllib3.util.ssl_ import create_urllib3_context, resolve_cert_reqs

_FILES = ("ca_certs", "ca_cert_data", "cert_file", "key_file")


def share_tls_context(api: client.ApiClient) -> None:
    """Make every future connection of ``api`` use one TLS context loaded once with its CA and certificate."""
    manager = api.rest_client.pool_manager
    settings = manager.connection_pool_kw
    if settings.get("ssl_context") is not None or not str(api.configuration.host).startswith("https://"):
        return
    context = create_urllib3_context(cert_reqs=resolve_cert_reqs(settings.get("cert_reqs")))
    ca_file, ca_data, cert_file, key_file = (settings.get(name) for name in _FILES)
    try:
        if ca_file or ca_data:
            context.load_verify_locations(cafile=ca_file, cadata=ca_data)
        else:
            context.load_default_certs()  # what urllib3 does for a context of its own without a CA
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError, ValueError):
        return  # a CA or certificate that does not load: left to fail each request, saying why, as before
    for name in _FILES:  # urllib3 would load them into the shared context again on every connection
        settings.pop(name, None)
    settings["ssl_context"] = context
    manager.clear()  # pools built before use the old settings
