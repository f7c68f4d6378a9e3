#!/usr/bin/env bash
# Line coverage of core/ by the committed fuzz corpora (llvm-cov), plus an HTML report.
#
#   fuzz/coverage.sh [TARGET...]      default: every fuzz target
#
# Builds the fuzz targets with clang 14 source-based coverage (-fprofile-instr-generate
# -fcoverage-mapping) and the replay main into build/fuzz-coverage (or $SMTPH_COVERAGE_DIR),
# replays corpus/<target>/ through each, merges the profiles (llvm-profdata-14) and prints
# `llvm-cov-14 report` for core/ (per file, then TOTAL) and the line coverage figure.
# HTML: <build>/html/index.html. Needs clang-14 and llvm-14 (scripts/deps.sh test).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${SMTPH_COVERAGE_DIR:-$root/build/fuzz-coverage}
jobs=$(nproc 2>/dev/null || echo 2)
for tool in clang++-14 llvm-profdata-14 llvm-cov-14; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/deps.sh test" >&2; exit 2; }
done

echo "=== configure + build (coverage) in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" \
  -DSMTPH_FUZZ=OFF -DSMTPH_FUZZ_LINKMAIN=ON -DSMTPH_TESTS=OFF -DSMTPH_TOOLS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target all_fuzzers >&2

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for bin in "$build"/fuzz/fuzz_*; do
    [[ -f $bin && -x $bin ]] && targets+=("$(basename "$bin")")
  done
fi

prof=$build/profiles
rm -rf "$prof"
mkdir -p "$prof"
objects=()
for t in "${targets[@]}"; do
  [[ $t == fuzz_baseline_memchr ]] && continue  # no core code
  bin=$build/fuzz/$t
  [[ -x $bin ]] || { echo "no such target: $t" >&2; exit 2; }
  [[ -d $root/corpus/$t ]] || { echo "no corpus for $t" >&2; continue; }
  LLVM_PROFILE_FILE="$prof/$t.profraw" "$bin" "$root/corpus/$t" 2>&1 | tail -1 >&2
  objects+=(-object "$bin")
done
[[ ${#objects[@]} -gt 0 ]] || { echo "nothing replayed" >&2; exit 2; }
llvm-profdata-14 merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata"

sources=("$root/core/src" "$root/core/include")
# llvm-cov takes the first binary positionally and the rest with -object.
first=${objects[1]}
rest=("${objects[@]:2}")
llvm-cov-14 report "$first" "${rest[@]}" -instr-profile="$prof/merged.profdata" \
  "${sources[@]}" | tee "$build/report.txt"
llvm-cov-14 show "$first" "${rest[@]}" -instr-profile="$prof/merged.profdata" \
  -format=html -show-line-counts-or-regions -output-dir="$build/html" "${sources[@]}"

# TOTAL row: ... Lines Missed Cover (the 10th column).
line_cov=$(awk '/^TOTAL/ {print $10}' "$build/report.txt")
echo
echo "core/ line coverage by the corpora of ${#targets[@]} target(s): $line_cov (of the code linked into them)"
unreached=()
for f in "$root"/core/src/*.cpp; do
  grep -q "^src/$(basename "$f") " "$build/report.txt" || unreached+=("$(basename "$f")")
done
if [[ ${#unreached[@]} -gt 0 ]]; then
  echo "core/src files no fuzz target links (not in the figure): ${unreached[*]}"
fi
echo "HTML report: $build/html/index.html"
