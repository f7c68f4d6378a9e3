#!/usr/bin/env bash
# The main job: build smtp-harness (installing missing Debian packages first), run the default
# suite (scenarios/) against the embedded reference server, write out/report.json (JSON
# compliance report) and out/report.xml (JUnit), print the summary, and exit with run's exit
# code (0 no MUST-level failure, 1 failures, 2 usage/input error, 3 unreachable/TLS, 130
# interrupted). Extra arguments go to `smtp-harness run` (e.g. --target 127.0.0.1:2525).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh main
cmake --preset main >/dev/null
cmake --build build/main -j "$(nproc 2>/dev/null || echo 2)" --target smtp-harness
bin=build/main/tools/smtp-harness
mkdir -p out
"$bin" --version
rc=0
"$bin" run scenarios --report out/report.json --junit out/report.xml "$@" || rc=$?
exit "$rc"
