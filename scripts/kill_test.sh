#!/usr/bin/env bash
# Kill test: SIGKILLs `dcgan train` at random moments (start-up, training steps, checkpoint writes),
# resumes after each kill, checks that latest.safetensors always loads (`dcgan info`) and never
# goes back, and that the final weights equal an uninterrupted run's, byte for byte.
# The test itself is tests/e2e/test_kill.cpp (also part of ctest); this script runs it alone with
# more kills or another seed.
#
#   scripts/kill_test.sh [KILLS [SEED]]        default 20 kills, seed 1
#   BUILD=build-rel scripts/kill_test.sh 50 7  another build directory
#
# Needs Fashion-MNIST (Debian package dataset-fashion-mnist, or DCGAN_FASHION_MNIST_DIR).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
build="${BUILD:-build}"
if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  cmake -S . -B "$build" -G Ninja -DDCGAN_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j2 --target dcgan test_kill
export DCGAN_KILLS="${1:-20}" DCGAN_KILL_SEED="${2:-1}" OMP_NUM_THREADS=2
echo "[kill] $DCGAN_KILLS kills, seed $DCGAN_KILL_SEED"
start=$(date +%s)
"$build/tests/test_kill" --gtest_brief=1
echo "[kill] passed in $(( $(date +%s) - start )) s"
