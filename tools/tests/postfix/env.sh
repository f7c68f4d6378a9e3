# shellcheck shell=bash
# Settings shared by the private Postfix test instance scripts (start.sh, stop.sh,
# check_loopback.sh). Source it; it starts nothing. Loopback only, never DNS.
# shellcheck disable=SC2034  # used by the scripts that source this file

PF_RUN="${SMTPH_POSTFIX_RUN:-/tmp/smtph-postfix}"   # runtime state: config, queue, log, cert
PF_HOST=127.0.0.1                                    # the only address tests target
PF_PORT="${SMTPH_POSTFIX_PORT:-2525}"                # plain SMTP + STARTTLS + AUTH
PF_TLS_PORT="${SMTPH_POSTFIX_TLS_PORT:-2465}"        # implicit TLS (wrapper mode) + AUTH
PF_USER=bench                                        # throw-away AUTH user (Cyrus sasldb)
PF_PASS=benchpass
PF_REALM=bench.test

PF_ETC="$PF_RUN/etc"
PF_SPOOL="$PF_RUN/spool"
PF_PIDFILE="$PF_SPOOL/pid/master.pid"
PF_LOG="$PF_RUN/maillog"
PF_CERT="$PF_RUN/tls/cert.pem"
PF_KEY="$PF_RUN/tls/key.pem"
PF_USERS="$PF_RUN/users"          # how many start.sh callers still use the instance
PF_LOCK="$PF_RUN/lock"

pf_log() { printf '[postfix] %s\n' "$*" >&2; }
pf_die() { printf '[postfix] ERROR: %s\n' "$*" >&2; exit 1; }

case "$PF_RUN" in
  /|/tmp|/tmp/|"") pf_die "refusing run dir '$PF_RUN'" ;;
esac

# True if the pid in file $1 is a live process.
pf_pid_alive() {
  local f=$1 pid
  [[ -s "$f" ]] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}
pf_master_pid() { tr -dc '0-9' <"$PF_PIDFILE" 2>/dev/null; }

# True if something listens on TCP port $1.
pf_port_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Bounded wait: up to $2 seconds for port $1 to listen.
pf_wait_port() {
  local port=$1 limit=${2:-15} i
  for ((i = 0; i < limit * 10; i++)); do
    pf_port_listening "$port" && return 0
    sleep 0.1
  done
  return 1
}

# Is IPv6 loopback configured (::1 on lo)?
pf_have_ipv6() { [[ -r /proc/net/if_inet6 ]] && grep -q ' lo$' /proc/net/if_inet6; }
