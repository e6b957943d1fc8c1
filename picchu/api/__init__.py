"""The wire API of picchu: versioned pydantic models of the picchu.medium.engineering custom resources.

Pure: no I/O, no clock, no Kubernetes client. Everything else in picchu depends on this package, never the
reverse. The only version is `v1alpha1` (Medium Picchu's); see `picchu.api.v1alpha1`.
"""
