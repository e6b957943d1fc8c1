"""Hypothesis strategies for Revision targets, shared by the property and CRD-agreement tests."""

from __future__ import annotations

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
