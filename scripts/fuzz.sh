#!/usr/bin/env bash
# Builds the libFuzzer targets (ASan + UBSan, clang) in build/fuzz and runs each for SECONDS
# (default 60), after replaying the known crashers in fuzz/regressions/. See docs/reliability.md.
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="npy idx" scripts/fuzz.sh 300     # some targets only
#   FUZZ_ARGS="-max_len=100000" scripts/fuzz.sh     # extra libFuzzer flags
#
# Seeds: fuzz/make_corpus.py writes fuzz/corpus/<target>/seed_* (small, generated, not committed);
# libFuzzer keeps the inputs it finds interesting in build/fuzz/corpus/<target>/, so later runs
# start further. Crashers land in
# fuzz/crashes/<target>/ (crash-*, leak-*, timeout-*, oom-*); reproduce one with
#   build/fuzz/fuzz/fuzz_<target> fuzz/crashes/<target>/crash-...
# Exit status: 0 when no target crashed, 1 otherwise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
seconds="${1:-60}"
targets="${FUZZ_TARGETS:-safetensors npy idx image cifar config_json}"
build=build/fuzz

if [[ ! -f $build/build.ninja ]]; then
  echo "[fuzz] configuring $build (clang, ASan + UBSan + libFuzzer)"
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DDCGAN_FUZZ=ON -DDCGAN_BUILD_TESTS=OFF \
    -DDCGAN_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "[fuzz] building the fuzz targets"
cmake --build "$build" -j2 --target fuzz_all

/usr/bin/python3 fuzz/make_corpus.py --out fuzz/corpus

export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/dcgan-fuzz.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"   # the targets' per-process input files
mkdir -p "$build/logs"

failed=()
for t in $targets; do
  bin="$build/fuzz/fuzz_$t"
  mkdir -p "fuzz/corpus/$t" "fuzz/crashes/$t" "$build/corpus/$t"
  # 1. The crashers found before, fixed since: each must now pass under the sanitizers.
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    if ! "$bin" -rss_limit_mb=2048 fuzz/regressions/$t/* >"$build/logs/$t.regressions.log" 2>&1; then
      echo "[fuzz] $t: a regression input crashes again; see $build/logs/$t.regressions.log"
      tail -n 30 "$build/logs/$t.regressions.log"
      failed+=("$t(regression)")
      continue
    fi
  fi
  # 2. Fuzz.
  echo "[fuzz] $t: fuzzing for ${seconds}s"
  # shellcheck disable=SC2086
  if "$bin" "$build/corpus/$t" "fuzz/corpus/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
       -artifact_prefix="fuzz/crashes/$t/" -print_final_stats=1 ${FUZZ_ARGS:-} >"$build/logs/$t.log" 2>&1; then
    echo "[fuzz] $t: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build/logs/$t.log" |
                            grep -o '[0-9]*$') inputs, corpus $(ls "$build/corpus/$t" | wc -l) files)"
  else
    echo "[fuzz] $t: CRASH; input kept in fuzz/crashes/$t/, log $build/logs/$t.log"
    grep -m 5 -E 'ERROR|SUMMARY|runtime error|uncaught|deadly signal' "$build/logs/$t.log" || true
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "[fuzz] FAILED: ${failed[*]}"
  echo "[fuzz] fix the parser, then move the input to fuzz/regressions/<target>/ (replayed by test_fuzz_regressions)"
  exit 1
fi
echo "[fuzz] all targets ran ${seconds}s without a crash"
