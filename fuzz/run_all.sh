#!/usr/bin/env bash
# Fuzz every target for N seconds, in parallel up to the core count, and print per target:
# exec/s (and its ratio to fuzz_baseline_memchr, run side by side with the same flags),
# coverage (libFuzzer cov: / ft:), corpus size, crashes.
#
#   fuzz/run_all.sh SECONDS [TARGET...]        e.g. fuzz/run_all.sh 60
#   fuzz/run_all.sh 600 fuzz_reply_parser      one target, 10 minutes
#
# Builds the `fuzz` preset (clang 14, libFuzzer + ASan + UBSan) into build/fuzz, or into
# $SMTPH_FUZZ_BUILD_DIR. Each target starts from a scratch copy of corpus/<target>/ (the
# baseline from all corpora) in <build>/run/<target>/corpus, so committed corpora are never
# touched; crash inputs land in <build>/run/<target>/artifacts/ (see fuzz/README.md to
# reproduce, minimize and keep them). Flags come from fuzz/<target>.options; extra libFuzzer
# flags can be added with SMTPH_FUZZ_FLAGS="-len_control=0 ...". Parallel jobs: $SMTPH_FUZZ_JOBS
# (default nproc). Exit status 1 when any target crashed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
seconds=$1
shift
build=${SMTPH_FUZZ_BUILD_DIR:-$root/build/fuzz}
jobs=${SMTPH_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
extra=${SMTPH_FUZZ_FLAGS:-}

echo "=== configure + build (preset fuzz) in $build" >&2
cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" -j "$jobs" --target all_fuzzers >&2

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for bin in "$build"/fuzz/fuzz_*; do
    [[ -f $bin && -x $bin ]] && targets+=("$(basename "$bin")")
  done
fi
# The baseline always runs beside the others (it is what exec/s is compared with).
have_baseline=0
for t in "${targets[@]}"; do [[ $t == fuzz_baseline_memchr ]] && have_baseline=1; done
[[ $have_baseline -eq 1 ]] || targets+=(fuzz_baseline_memchr)

# libFuzzer flags from fuzz/<target>.options ("key = value" lines; dict relative to fuzz/).
options_flags() {
  local file=$root/fuzz/$1.options key value
  [[ -f $file ]] || return 0
  while IFS='=' read -r key value; do
    key=$(echo "$key" | tr -d '[:space:]')
    value=$(echo "$value" | tr -d '[:space:]')
    [[ -z $key || $key == \[* || $key == \#* || -z $value ]] && continue
    [[ $key == dict ]] && value=$root/fuzz/$value
    printf -- '-%s=%s\n' "$key" "$value"
  done <"$file"
}

run_one() {
  local t=$1 dir=$build/run/$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [[ $t == fuzz_baseline_memchr ]]; then
    # The same kind of inputs as the real targets: every committed seed.
    find "$root"/corpus -type f -exec cp -t "$dir/corpus" {} + 2>/dev/null || true
  elif [[ -d $root/corpus/$t ]]; then
    cp "$root/corpus/$t"/* "$dir/corpus/" 2>/dev/null || true
  fi
  local flags
  mapfile -t flags < <(options_flags "$t")
  # shellcheck disable=SC2086
  "$build/fuzz/$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${flags[@]}" $extra \
    "$dir/corpus" >"$dir/log" 2>&1 || echo $? >"$dir/status"
}

echo "=== fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time" >&2
running=0
for t in "${targets[@]}"; do
  if [[ ! -x $build/fuzz/$t ]]; then
    echo "no such target: $t" >&2
    exit 2
  fi
  run_one "$t" &
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

# Report.
stat() { grep -m1 "^stat::$2:" "$1" 2>/dev/null | awk '{print $2}'; }
baseline_eps=$(stat "$build/run/fuzz_baseline_memchr/log" average_exec_per_sec)
printf '%-30s %9s %7s %6s %7s %8s %9s  %s\n' target exec/s ratio cov ft corpus bytes crashes
status=0
for t in "${targets[@]}"; do
  dir=$build/run/$t
  eps=$(stat "$dir/log" average_exec_per_sec)
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  files=$(find "$dir/corpus" -type f | wc -l)
  bytes=$(find "$dir/corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  crashes=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
            -o -name 'oom-*' \) | wc -l)
  ratio=-
  if [[ -n $eps && -n $baseline_eps && $baseline_eps -gt 0 ]]; then
    ratio=$(awk -v a="$eps" -v b="$baseline_eps" 'BEGIN {printf "%.3f", a / b}')
  fi
  note=$crashes
  if [[ $crashes -gt 0 || -f $dir/status ]]; then
    note="$crashes in $dir/artifacts (log: $dir/log)"
    status=1
  fi
  printf '%-30s %9s %7s %6s %7s %8s %9s  %s\n' "$t" "${eps:-?}" "$ratio" "${cov:-?}" "${ft:-?}" \
    "$files" "$bytes" "$note"
done
exit $status
