#!/usr/bin/env bash
# The README's first command: sets up, builds, and trains the seed DCGAN on Fashion-MNIST (32x32)
# for a few minutes on 2 cores. Results land in runs/quickstart/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/setup.sh
build/dcgan train --out runs/quickstart "$@"
