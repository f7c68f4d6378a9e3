#!/usr/bin/env bash
# Install the Debian packages smtp-harness needs, if any are missing.
#   scripts/deps.sh main   what building and running the CLI needs
#   scripts/deps.sh test   that plus clang/sanitizers, Google Benchmark, Postfix, swaks, jsonschema
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail
what=${1:-test}

main_pkgs=(g++ cmake ninja-build pkg-config libasio-dev libssl-dev openssl nlohmann-json3-dev
           libcli11-dev libfmt-dev libexpected-dev libvalijson-dev libre2-dev libgtest-dev
           python3)
test_pkgs=(clang-14 libclang-rt-14-dev llvm-14 libbenchmark-dev python3-jsonschema
           postfix sasl2-bin libsasl2-modules swaks libnet-ssleay-perl libdigest-hmac-perl
           procps iproute2)

case "$what" in
  main) pkgs=("${main_pkgs[@]}") ;;
  test) pkgs=("${main_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 main|test" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "smtp-harness needs these Debian packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi

echo "[deps] installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix: install the binaries only; never configure or start the system instance
# (tests run their own private, loopback-only instance).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
# Do not let package scripts start daemons on this machine.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
