#!/usr/bin/env bash
# The main job: build smtp-harness (installing missing Debian packages first) and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh main
cmake --preset main >/dev/null
cmake --build build/main -j "$(nproc 2>/dev/null || echo 2)" --target smtp-harness
bin=build/main/tools/smtp-harness
mkdir -p out
"$bin" --version
