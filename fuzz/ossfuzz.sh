#!/usr/bin/env bash
# Entry point for OSS-Fuzz and ClusterFuzzLite, kept in this repository so that targets and
# build flags can change without touching the oss-fuzz project (simdjson's idea). The
# project's build.sh is just:   $SRC/smtp-harness/fuzz/ossfuzz.sh
#
# Uses the standard environment: $CXX $CXXFLAGS (sanitizer and coverage flags chosen by the
# infrastructure: ASan, UBSan, MSan, coverage...), $LIB_FUZZING_ENGINE (libFuzzer, AFL++,
# honggfuzz...), $OUT (where binaries, seed corpora, dictionaries and options go), $WORK
# (scratch; default build/ossfuzz-work). $CC/$CFLAGS are unused (C++ only).
# The build needs cmake, ninja (or make) and the Debian/Ubuntu package libexpected-dev.
#
# Local test (clang 14, libFuzzer, ASan+UBSan):
#   CXX=clang++-14 CXXFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only \
#     -fsanitize=address,undefined -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/ossfuzz.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CXX:?set CXX}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}" "${OUT:?set OUT}"
CXXFLAGS=${CXXFLAGS:-}
work=${WORK:-$root/build/ossfuzz-work}/smtp-harness
mkdir -p "$OUT" "$work"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# SMTPH_FUZZ stays OFF: the sanitizers come from $CXXFLAGS (MSan builds must not get ASan).
# SMTPH_FUZZ_LINKMAIN=OFF + SMTPH_FUZZ_LDFLAGS: link the fuzzing engine instead of the replay
# main. CMAKE_CXX_FLAGS also reach the link step, so the sanitizer runtimes are linked.
cmake -S "$root" -B "$work" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DCMAKE_CXX_FLAGS_RELEASE="" \
  -DSMTPH_FUZZ=OFF \
  -DSMTPH_FUZZ_LINKMAIN=OFF \
  -DSMTPH_FUZZ_LDFLAGS="$LIB_FUZZING_ENGINE" \
  -DSMTPH_TESTS=OFF -DSMTPH_TOOLS=OFF -DSMTPH_BENCHMARKS=OFF -DSMTPH_WERROR=OFF
cmake --build "$work" --target all_fuzzers -j "$(nproc 2>/dev/null || echo 2)"

cp "$root/fuzz/smtp.dict" "$OUT/"
count=0
for bin in "$work"/fuzz/fuzz_*; do
  [[ -f $bin && -x $bin ]] || continue
  name=$(basename "$bin")
  [[ $name == fuzz_baseline_memchr ]] && continue  # a measuring stick, not a target
  cp "$bin" "$OUT/"
  [[ -f $root/fuzz/$name.options ]] && cp "$root/fuzz/$name.options" "$OUT/"
  if [[ -d $root/corpus/$name ]]; then
    rm -f "$OUT/${name}_seed_corpus.zip"
    (cd "$root/corpus/$name" && zip -q -X -j "$OUT/${name}_seed_corpus.zip" ./*)
  fi
  count=$((count + 1))
done
echo "ossfuzz.sh: $count fuzz targets in $OUT" >&2
