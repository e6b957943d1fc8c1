"""Host names of a port on an ingress, and the authority regex that matches them (spec §11.9).

Wire parity matters here: the regex text is compared by Istio and by humans reading VirtualServices, so
quoting follows Go's `regexp.QuoteMeta` exactly (only ``\\.+*?()|[]{}^$`` are escaped; a hyphen is not,
unlike Python's `re.escape`).

Neighbours: `routing.py` (the only caller).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_GO_META = frozenset("\\.+*?()|[]{}^$")


def quote_meta(text: str) -> str:
    """Go `regexp.QuoteMeta`: backslash-escape regex metacharacters, nothing else."""
    return "".join(f"\\{char}" if char in _GO_META else char for char in text)


def authority_regex(hosts: Iterable[str]) -> str:
    """`^(h1|h2|...)(:[0-9]+)?$` over the sorted quoted hosts."""
    return "^(" + "|".join(sorted(quote_meta(host) for host in hosts)) + ")(:[0-9]+)?$"


def default_hosts(app: str, namespace: str, target: str, fleet: str, domains: Iterable[str]) -> list[str]:
    """Candidate default host names for each ingress domain, in domain order."""
    names: list[str] = []
    suffix = f"-{fleet}"
    for domain in domains:
        names.append(f"{namespace}.{domain}")
        if target == fleet:
            names.append(f"{app}.{domain}")
        elif namespace.endswith(suffix):
            names.append(f"{namespace[: -len(suffix)]}.{domain}")
    return names


def port_hosts(
    *,
    port: Mapping[str, Any],
    ingress: str,
    all_ports: Iterable[Mapping[str, Any]],
    defaults: list[str],
    default_ingress_ports: Mapping[str, str],
) -> list[str]:
    """Hosts of `port` on `ingress`: the defaults if it is the ingress's default port, then its own hosts."""
    explicit = {host for other in all_ports for host in other.get("hosts") or []}
    is_default = default_ingress_ports.get(ingress) == port.get("name")
    hosts = [host for host in defaults if is_default and host not in explicit]
    hosts.extend(port.get("hosts") or [])
    return hosts
