"""Pure renderers: the objects picchu writes into each target cluster, as data (spec §11).

Entry point: `plan.render_cluster(AppInput, ClusterInput) -> RenderedPlan`. Inputs are the frozen
dataclasses of `inputs`; each family has its module — `namespace` (Namespace, ServiceAccount, token Secret,
RBAC), `waypoint`, `workloads` (ReplicaSet, PDB), `configs`, `scaling` (HPA, WPA, KEDA, DatadogMetric),
`routing` (Service, Sidecar, DestinationRule, app PrometheusRule, VirtualService) with `hosts`,
`monitoring` (ServiceMonitors, canary rules) with `promql`, `slo` (recording rules, Sloth PSL). `desired`
holds the write policies that form the contract with the applier (`picchu.clusters`).

No I/O, no clock, no logging; inputs are never mutated.
"""
