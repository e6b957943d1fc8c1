"""Close the pooled connections nobody uses: those idle for a while and those their server has closed.

Why: each API client's urllib3 pool is sized to the operator's concurrency (one connection per worker:
`engine.assembly.size_delivery_pool`, `pool.ClientPool`), so a burst of passes leaves that many connections
in the pool of every cluster it touched, and urllib3 looks at a pooled connection only when it takes it out
again. An idle operator reads everything from watches, so it never did: after a burst of 500 apps over 3
target clusters the process held 229 pooled connections, 197 of them already closed by their apiserver
(CLOSE-WAIT; the kube-apiserver closes a connection after 90 s without a request), each with its socket and
TLS state (~80 KiB measured), ~18 MiB in all.

How long a connection has been idle comes from the kernel (`TCP_INFO`: milliseconds since data was last sent
and received), so nothing has to track requests. Where the kernel does not say (not Linux), only the
connections the server closed are closed.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from kubernetes import client

IDLE_SECONDS = 30.0
# struct tcp_info (linux/tcp.h): after 8 one-byte fields and 9 u32s come tcpi_last_data_sent (offset 44),
# tcpi_last_ack_sent and tcpi_last_data_recv (offset 52), in milliseconds.
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_LAST_DATA = struct.Struct("=I4xI")
_LAST_DATA_OFFSET = 44


def close_idle(api: client.ApiClient, idle_seconds: float = IDLE_SECONDS) -> int:
    """Close the connections in ``api``'s pools idle for ``idle_seconds`` or closed by their server; how many.

    Safe beside requests in flight: a pool is rewritten under its queue's lock (requests wait for that lock
    only), a closed connection becoming an empty slot (`None`, as urllib3 marks one it discarded) below the
    ones kept, so the next request reuses a kept connection and only one beyond them opens a new one."""
    manager = api.rest_client.pool_manager
    closed = 0
    for key in manager.pools.keys():  # a copy, taken under the container's lock
        try:
            pool = manager.pools[key]
        except KeyError:  # evicted meanwhile
            continue
        closed += _close_idle_in(pool, idle_seconds)
    return closed


def _close_idle_in(pool: Any, idle_seconds: float) -> int:
    slots = pool.pool  # urllib3's LifoQueue of connections (None: an empty slot); None once it is closed
    if slots is None:
        return 0
    keep: list[Any] = []
    closing: list[Any] = []
    with slots.mutex:
        for conn in slots.queue:
            if conn is not None:
                used = conn.is_connected and _idle_seconds(conn) < idle_seconds
                (keep if used else closing).append(conn)
        slots.queue[:] = [None] * (len(slots.queue) - len(keep)) + keep
    for conn in closing:
        conn.close()
    return len(closing)


def _idle_seconds(conn: Any) -> float:
    """Seconds since the connection last sent or received data; 0 when the kernel cannot tell."""
    sock = conn.sock
    if _TCP_INFO is None or sock is None:
        return 0.0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _LAST_DATA_OFFSET + _LAST_DATA.size)
    except OSError:
        return 0.0
    if len(info) < _LAST_DATA_OFFSET + _LAST_DATA.size:
        return 0.0
    sent_ms: int
    received_ms: int
    sent_ms, received_ms = _LAST_DATA.unpack_from(info, _LAST_DATA_OFFSET)
    return min(sent_ms, received_ms) / 1000
