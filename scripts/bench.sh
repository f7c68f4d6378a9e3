#!/usr/bin/env bash
# Parser benchmarks: build the `bench` preset (GCC Release + LTO, development checks off), run
# core/bench/parser_bench and print each parser's throughput as a ratio of the memchr line scan
# over the same buffer in the same run (issue 2, item 6).
#
# Usage: scripts/bench.sh [extra Google Benchmark flags...]
#   BENCH_BUILD_DIR=build/x scripts/bench.sh   build in another directory (default: build/bench)
#   BENCH_JOBS=N                                build parallelism (default: 2)
#   BENCH_JSON=out.json                         also keep the raw Google Benchmark JSON
# Targets (issue 2): ReplyParser >= 0.5, DataDecoder >= 0.5, DotStuffEncoder >= 0.5,
# CommandParser >= 0.1 of the baseline. Exit 0 when every target is met, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

build=${BENCH_BUILD_DIR:-build/bench}
jobs=${BENCH_JOBS:-2}
# The bench preset's settings (Release, LTO, no tests) in whichever directory was asked for.
cmake --preset bench -B "$build" >/dev/null
cmake --build "$build" -j "$jobs" --target parser_bench >&2

json=$(mktemp)
trap 'rm -f "$json"' EXIT
# Three repetitions, compared by their medians (the machine may be shared).
"$build/core/bench/parser_bench" --benchmark_format=json --benchmark_out="$json" \
  --benchmark_out_format=json --benchmark_min_time=0.5 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true "$@" >/dev/null
[[ -n "${BENCH_JSON:-}" ]] && cp "$json" "$BENCH_JSON"

python3 - "$json" <<'EOF'
import json, sys

data = json.load(open(sys.argv[1]))
rows = {}
for b in data["benchmarks"]:
    name = b.get("run_name", b["name"])
    if b.get("error_occurred"):
        rows[name] = None
        print(f"{name}: ERROR {b.get('error_message', '')}")
        continue
    # Prefer the median of repetitions; a single run (no aggregates) is used as is.
    if b.get("run_type") == "aggregate":
        if b.get("aggregate_name") == "median":
            rows[name] = b
    elif name not in rows:
        rows[name] = b

targets = [("ReplyParser", 0.5), ("CommandParser", 0.1), ("DataDecoder", 0.5),
           ("DotStuffEncoder", 0.5)]
ctx = data.get("context", {})
print(f"# {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs @ "
      f"{ctx.get('mhz_per_cpu', '?')} MHz, Google Benchmark library build: {ctx.get('library_build_type', '?')}")
print(f"{'parser':<16} {'MB/s':>9} {'memchr MB/s':>12} {'ratio':>7} {'target':>7}  units/s")
ok = True
for name, target in targets:
    p = rows.get(f"BM_{name}")
    base = rows.get(f"BM_MemchrLines_{name}")
    if not p or not base:
        print(f"{name:<16} {'n/a':>9} {'n/a':>12} {'n/a':>7} {target:>7.2f}  (missing or failed)")
        ok = False
        continue
    r = p["bytes_per_second"] / base["bytes_per_second"]
    unit = next((k for k in p if k.endswith("/s")), None)
    units = f"{p[unit]:.3g} {unit}" if unit else ""
    mark = "" if r >= target else "  BELOW TARGET"
    ok = ok and r >= target
    print(f"{name:<16} {p['bytes_per_second'] / 1e6:>9.1f} {base['bytes_per_second'] / 1e6:>12.1f} "
          f"{r:>7.2f} {target:>7.2f}  {units}{mark}")
sys.exit(0 if ok else 1)
EOF
