#!/usr/bin/env bash
# Installs SPIRE for x0tta6bl4 with pinned charts and k8s/spire/values.yaml: server, agent, SPIFFE CSI driver and
# spire-controller-manager, with the x0 workloads' registrations. Needs helm 3 and a kubeconfig for the cluster.
#   k8s/spire/install.sh                 install or upgrade
#   k8s/spire/install.sh --dry-run       show what would change (helm's own --dry-run)
set -euo pipefail
REPO=https://spiffe.github.io/helm-charts-hardened/
CRDS_VERSION=0.6.0
SPIRE_VERSION=0.30.0
NAMESPACE=spire-mgmt
here="$(cd "$(dirname "$0")" && pwd)"
helm upgrade --install spire-crds spire-crds --repo "$REPO" --version "$CRDS_VERSION" \
  --namespace "$NAMESPACE" --create-namespace --wait "$@"
helm upgrade --install spire spire --repo "$REPO" --version "$SPIRE_VERSION" \
  --namespace "$NAMESPACE" --values "$here/values.yaml" --wait "$@"
