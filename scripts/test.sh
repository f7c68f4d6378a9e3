#!/usr/bin/env bash
# Every test, twice: GCC Release with warnings as errors, then clang 14 with
# AddressSanitizer + UndefinedBehaviorSanitizer. Installs missing Debian packages first.
# Usage: scripts/test.sh [release|asan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

jobs=$(nproc 2>/dev/null || echo 2)
# As root (CI, a fresh machine) the Postfix tests must run, not skip: start.sh can set up the
# project's private loopback Postfix instance there.
if [[ $(id -u) -eq 0 ]]; then export SMTPH_REQUIRE_POSTFIX=1; fi
presets=("$@")
[[ ${#presets[@]} -eq 0 ]] && presets=(release asan)

status=0
for preset in "${presets[@]}"; do
  echo "=== [$preset] configure + build ===" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build "build/$preset" -j "$jobs"
  echo "=== [$preset] test ===" >&2
  if ! ctest --test-dir "build/$preset" --output-on-failure -j "$jobs" --timeout 900; then
    status=1
  fi
done
exit $status
