"""The /metrics endpoint, sent one metric family at a time.

Why: prometheus_client's own server renders a whole scrape before it sends a byte: every sample line as a
string, then the lines joined, then encoded, then gzipped. At 500 apps a scrape is ~112,000 lines (10 MB of
text), so each scrape took the operator from ~145 to ~185 MiB resident and left ~3 MiB of it behind among
the blocks that stayed. Here each family is rendered by prometheus_client's own encoder (the one its
`choose_encoder` picks for the scraper's Accept header: the Prometheus text format or OpenMetrics),
compressed when the scraper accepts gzip, and written before the next family is collected: a scrape holds
one family's samples and text at a time. `name[]` selects families, as with prometheus_client.

The body is sent in HTTP/1.1 chunks, since its length is not known before the end: a failure halfway (a
collector raising) leaves it without its last chunk, which a scraper reports as a failed scrape rather than
taking the families sent so far for the whole.
"""

from __future__ import annotations

import logging
import socket
import threading
import zlib
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)
_OPENMETRICS_END = b"# EOF\n"


class _OneFamily:
    """A collector of one family: what the encoders take."""

    def __init__(self, family: Metric) -> None:
        self.family = family

    def collect(self) -> Iterable[Metric]:
        return (self.family,)


def exposition(registry: CollectorRegistry, accept: str | None, names: list[str] | None = None) -> \
        tuple[str, Iterator[bytes]]:
    """The content type for this Accept header, and the scrape's text in pieces, one family each."""
    encoder, content_type = choose_encoder(accept or "")
    source: Any = registry.restricted_registry(names) if names else registry
    openmetrics = content_type.startswith("application/openmetrics-text")

    def pieces() -> Iterator[bytes]:
        for family in source.collect():
            text = encoder(_OneFamily(family))  # the encoders only call .collect()
            yield text.removesuffix(_OPENMETRICS_END) if openmetrics else text
        if openmetrics:
            yield _OPENMETRICS_END  # once, at the very end

    return content_type, pieces()


def _gzipped(pieces: Iterator[bytes]) -> Iterator[bytes]:
    packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)  # the gzip container
    for piece in pieces:
        packed = packer.compress(piece)
        if packed:
            yield packed
    yield packer.flush()


def serve_metrics(address: str, registry: CollectorRegistry) -> ThreadingHTTPServer:
    """Listen on ``host:port`` (empty host: every IPv4 address) and serve the registry on every path."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            url = urlsplit(self.path)
            content_type, pieces = exposition(registry, self.headers.get("Accept"),
                                              parse_qs(url.query).get("name[]"))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            if gzip_accepted(self.headers.get("Accept-Encoding") or ""):
                self.send_header("Content-Encoding", "gzip")
                pieces = _gzipped(pieces)
            self.end_headers()
            try:
                for piece in pieces:
                    if piece:  # an empty chunk would end the body
                        self.wfile.write(b"%x\r\n" % len(piece))
                        self.wfile.write(piece)
                        self.wfile.write(b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True  # the scraper went away
            except Exception:
                self.close_connection = True  # without the last chunk: the scraper sees a failed scrape
                log.exception("a metrics collector failed; the scrape was cut off")

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    server = Server((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, name="picchu-metrics", daemon=True).start()
    return server
