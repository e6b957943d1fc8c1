"""picchu: a multi-cluster progressive-delivery operator, wire-compatible with Medium's Picchu."""
