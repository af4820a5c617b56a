#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (the README's second command; .ci/run calls it).
# The PyTorch reference data is regenerated every time, so it never goes stale.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/setup.sh
echo "[test] regenerating PyTorch reference data into build/reference"
/usr/bin/python3 tools/reference/make_reference.py --out build/reference
echo "[test] fuzzing every parser of outside data for 20 s each (clang, ASan + UBSan; docs/reliability.md)"
scripts/fuzz.sh 20
echo "[test] running the test suite"
# Everything a test needs was installed or generated above (Python modules, data sets, the fuzz
# seed corpus, the reference data): a test that finds a dependency missing fails instead of
# skipping (tests/support/require.hpp).
export DCGAN_TEST_REQUIRE_ALL=1
cd build
ctest --output-on-failure -j2 "$@"
