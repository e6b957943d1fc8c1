"""The people's side of picchu (issue 13): `picchu status|wait|abort|retry|pause|resume|promote|render|history`.

Each module is one command's work; `picchu.cli` only parses flags. They talk to the delivery cluster with the
user's kubeconfig (the same one `kubectl` uses) and, for per-cluster views, to the fleet's target clusters
with the credentials the operator uses (the Cluster's Secret), read-only.
"""
