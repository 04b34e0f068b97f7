#!/usr/bin/env bash
# Install every Debian 12 package nnguard needs to build, test, fuzz and demo.
# Run as root (or with sudo). Idempotent.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
BUILD_PKGS="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev
  libopenblas-dev libsodium-dev libjansson-dev zlib1g-dev libmicrohttpd-dev libssl-dev
  libsqlite3-dev libcurl4-openssl-dev libpng-dev libjpeg62-turbo-dev"
# Intel's ipsec-mb: AES-256-GCM of sealed models with VAES / AVX-512 (x86-64 only; optional elsewhere).
if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then BUILD_PKGS="$BUILD_PKGS libipsec-mb-dev"; fi
DATA_PKGS="dataset-fashion-mnist"
TEST_PKGS="clang libclang-rt-14-dev valgrind cppcheck python3 python3-numpy python3-onnx curl chromium"
# PyTorch/ONNX are test-time peers only (fixture generation, benchmarks), never needed by the product.
PEER_PKGS="python3-torch python3-torchvision python3-onnx wrk nodejs npm"
want="$BUILD_PKGS $DATA_PKGS"
case "${1:-}" in
  --test) want="$want $TEST_PKGS" ;;
  --peers) want="$want $TEST_PKGS $PEER_PKGS" ;;
esac
missing=""
for p in $want; do
  # npm ships inside some nodejs builds (NodeSource): an npm on the PATH is enough for the peers.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
