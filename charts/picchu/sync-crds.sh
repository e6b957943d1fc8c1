#!/bin/sh
# Copy the generated CRDs (config/crd, written by `picchu crds`) into the chart, which installs them from crds/.
# tests/charts/test_chart.py fails when the two directories differ.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
rm -f "$root"/charts/picchu/crds/*.yaml
cp "$root"/config/crd/*.yaml "$root"/charts/picchu/crds/
