#!/usr/bin/env bash
# Check that the private Postfix test instance stays on loopback and never looks up DNS.
#  1. its configuration: loopback-only listeners, no peer-name lookups, no DNS for smtp/lmtp;
#  2. every socket the master listens on is 127.0.0.1 or ::1 (ss);
#  3. during SMTP sessions from 127.0.0.1 and ::1, no Postfix process opens a socket to a
#     non-loopback address or to port 53: traced with strace when it can attach, and in any
#     case sampled with ss; the log must show the clients as "unknown[...]" (no PTR lookup)
#     and no resolver warnings.
# Exit 0 when all hold; 1 with the reason otherwise; 77 (skipped) when the instance is not
# running, unless SMTPH_REQUIRE_POSTFIX=1. Run after start.sh (CTest: fixture "postfix").
set -uo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

failures=0
bad() { printf '[postfix] FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf '[postfix] ok: %s\n' "$*" >&2; }

if ! pf_pid_alive "$PF_PIDFILE"; then
  [[ "${SMTPH_REQUIRE_POSTFIX:-0}" == 1 ]] && pf_die "instance not running (start.sh first)"
  pf_log "SKIPPED: instance not running (start.sh first)"
  exit 77
fi
master=$(pf_master_pid)

# --- 1. configuration ---------------------------------------------------------------------
expect_conf() {
  local got
  got=$(postconf -c "$PF_ETC" -h "$1" 2>/dev/null)
  if [[ "$got" == "$2" ]]; then ok "$1 = $2"; else bad "$1 = '$got', want '$2'"; fi
}
expect_conf inet_interfaces loopback-only
expect_conf smtpd_peername_lookup no
expect_conf smtp_dns_support_level disabled
expect_conf lmtp_dns_support_level disabled
expect_conf default_transport discard:sink

# --- 2. listeners -------------------------------------------------------------------------
listeners=$(ss -Hltnp 2>/dev/null | grep "pid=$master," | awk '{print $4}')
[[ -n "$listeners" ]] || bad "master $master listens on nothing"
while read -r addr; do
  [[ -z "$addr" ]] && continue
  case "$addr" in
    127.*:*|"[::1]":*) ok "listener $addr" ;;
    *) bad "listener on non-loopback address $addr" ;;
  esac
done <<<"$listeners"

# --- 3. sessions under observation ---------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtph-pf-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log_mark=$(wc -l <"$PF_LOG" 2>/dev/null || echo 0)

strace_pid=""
if command -v strace >/dev/null; then
  # the master and its running children (smtpd processes are reused), and what they fork
  attach=(-p "$master")
  for child in $(ps -o pid= --ppid "$master" 2>/dev/null); do attach+=(-p "$child"); done
  strace -f -qq -e trace=connect,sendto,sendmsg -o "$tmp/strace" "${attach[@]}" 2>"$tmp/strace.err" &
  strace_pid=$!
  sleep 0.5
  kill -0 "$strace_pid" 2>/dev/null || strace_pid=""
fi
( for ((i = 0; i < 100; i++)); do ss -Htunap 2>/dev/null; sleep 0.05; done ) >"$tmp/ss" &
sampler=$!

session() {  # session HOST PORT: greeting, EHLO, QUIT over bash's /dev/tcp (bounded)
  timeout 10 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 5 greeting <&3 || exit 1
    [[ $greeting == 220* ]] || exit 1
    printf "EHLO check.example.test\r\n" >&3
    while IFS= read -r -t 5 line <&3; do [[ $line == "250 "* ]] && break; done
    printf "QUIT\r\n" >&3
    IFS= read -r -t 5 line <&3
    [[ $line == 221* ]]' _ "$1" "$2"
}
hosts=(127.0.0.1)
pf_have_ipv6 && hosts+=(::1)
for host in "${hosts[@]}"; do
  for port in "$PF_PORT" "$PF_TLS_PORT"; do
    if [[ $port == "$PF_TLS_PORT" ]]; then
      # implicit TLS: a bounded TLS handshake + EHLO through openssl s_client
      if printf 'EHLO check.example.test\r\nQUIT\r\n' | timeout 10 openssl s_client -quiet \
           -connect "$( [[ $host == *:* ]] && echo "[$host]" || echo "$host" ):$port" \
           -servername localhost >"$tmp/tls-$host" 2>&1 && grep -q '^221' "$tmp/tls-$host"; then
        ok "implicit-TLS session from $host:$port"
      else
        bad "implicit-TLS session to $host:$port failed: $(tail -2 "$tmp/tls-$host" | tr '\r\n' '  ')"
      fi
    elif session "$host" "$port"; then
      ok "SMTP session to $host:$port"
    else
      bad "SMTP session to $host:$port failed"
    fi
  done
done
sleep 0.5
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
if [[ -n "$strace_pid" ]]; then
  kill -INT "$strace_pid" 2>/dev/null; wait "$strace_pid" 2>/dev/null
  # connect()/sendto() to any inet address that is not loopback, or to port 53
  offending=$(grep -E 'sin6?_(port|addr)' "$tmp/strace" | grep -vE 'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"' || true)
  dns=$(grep -E 'htons\(53\)' "$tmp/strace" || true)
  if [[ -n "$offending" || -n "$dns" ]]; then
    bad "Postfix talked to non-loopback or DNS: $(printf '%s\n%s' "$offending" "$dns" | head -3)"
  else
    ok "strace: $(grep -c . "$tmp/strace") connect/send calls by Postfix processes, none to a non-loopback address or port 53"
  fi
else
  pf_log "strace cannot attach here; relying on ss samples and the log"
fi

# ss samples: sockets owned by Postfix processes (master and its children).
pids=$(ps -o pid= --ppid "$master" 2>/dev/null | tr -s ' \n' ' ')
pattern="pid=($master$(for p in $pids; do printf '|%s' "$p"; done)),"
pf_sockets=$(grep -E "$pattern" "$tmp/ss" | grep -E '"(smtpd|master|qmgr|pickup|cleanup|trivial-rewrite|discard|tlsmgr|anvil|proxymap|postlogd|smtp|lmtp|bounce)"' || true)
nonlocal=$(awk '{print $1, $5, $6}' <<<"$pf_sockets" | grep -vE ' (127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]|0\.0\.0\.0|\*|\[::\]):[0-9*]+ ' | grep -E 'tcp|udp' || true)
udp53=$(grep -E ':53 ' <<<"$pf_sockets" || true)
if [[ -n "$nonlocal" || -n "$udp53" ]]; then
  bad "Postfix socket outside loopback: $(printf '%s %s' "$nonlocal" "$udp53" | head -3)"
else
  ok "ss: $(sort -u <<<"$pf_sockets" | grep -c .) distinct Postfix sockets sampled, all loopback"
fi

# log: clients appear as unknown[...] (no PTR lookup), no resolver complaints.
new_log=$(tail -n +"$((log_mark + 1))" "$PF_LOG" 2>/dev/null || true)
if grep -qE 'connect from unknown\[127\.0\.0\.1\]' <<<"$new_log"; then
  ok "log: clients logged as unknown[...] (no reverse lookup)"
else
  bad "log: no 'connect from unknown[127.0.0.1]' line after the sessions"
fi
if grep -qiE 'name service error|host not found|hostname .* does not resolve|dns' <<<"$new_log"; then
  bad "log mentions name resolution: $(grep -iE 'name service error|host not found|does not resolve|dns' <<<"$new_log" | head -2)"
else
  ok "log: no resolver activity"
fi

if [[ $failures -gt 0 ]]; then
  pf_log "$failures check(s) failed"
  exit 1
fi
pf_log "loopback only, no DNS: all checks passed"
