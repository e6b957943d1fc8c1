"""Hypothesis strategies (JSON values, Revision targets) and helpers shared by the property tests."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

ports = st.fixed_dictionaries(
    # `mode` is always present: Picchu's CRD requires it (the model alone would default it to private).
    {
        "name": st.sampled_from(["http", "grpc", "status", "admin"]),
        "mode": st.sampled_from(["", "public", "private", "local"]),
    },
    optional={
        "default": st.booleans(),
        "ingresses": st.lists(st.sampled_from(["public", "private"]), max_size=2, unique=True),
        "port": st.integers(min_value=0, max_value=65535),
    },
)
targets = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["production", "staging", "dev"]),
        "fleet": st.sampled_from(["production", "staging"]),
        "scale": st.fixed_dictionaries(
            {}, optional={"min": st.integers(-2, 5), "max": st.integers(0, 9), "default": st.integers(0, 9)}
        ),
    },
    optional={
        "ports": st.lists(ports, max_size=4),
        "defaultIngressPorts": st.dictionaries(
            st.sampled_from(["public", "private", "local"]),
            st.sampled_from(["http", "grpc", "x"]),
            max_size=2,
        ),
        "canary": st.fixed_dictionaries({"percent": st.integers(0, 120), "ttl": st.integers(-1, 900)}),
        "release": st.fixed_dictionaries(
            {},
            optional={
                "max": st.integers(0, 100),
                "scalingStrategy": st.sampled_from(["", "linear", "geometric", "none"]),
                "ttl": st.integers(-1, 10**6),
                "linearScaling": st.fixed_dictionaries(
                    {}, optional={"delay": st.sampled_from(["0s", "1m", "x"])}
                ),
            },
        ),
        "karpenterDoNotDisrupt": st.sampled_from(["", "true", "30m", "never"]),
        "podDisruptionBudget": st.fixed_dictionaries(
            {}, optional={"maxUnavailable": st.just("10%"), "minAvailable": st.just(1)}
        ),
    },
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN or infinity
    st.text(max_size=12),
    st.sampled_from(
        ["", "0", "10s", "1h", "true", "public", "private", "local", "linear", "99.9", "1.0", "-1"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.text(max_size=8), st.sampled_from(["name", "min", "percent", "ttl", "mode", "spec"])
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(paths(value, (*prefix, index)))
    return found


def replaced(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    node: Any = result
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return result
