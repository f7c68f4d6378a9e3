#!/usr/bin/env bash
# Stop the private Postfix test instance started by start.sh, when its last user is done
# (each start.sh counts one user). `stop.sh --force` stops it regardless. Signals only the
# master named in the instance's own pid file; the system instance is left alone. Idempotent.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

force=0
[[ "${1:-}" == --force ]] && force=1

if [[ ! -d "$PF_RUN" ]] || ! pf_pid_alive "$PF_PIDFILE"; then
  rm -f "$PF_USERS"
  pf_log "not running"
  exit 0
fi
exec 9>"$PF_LOCK"
flock -w 60 9 || pf_die "could not lock $PF_LOCK"

users=$(cat "$PF_USERS" 2>/dev/null || echo 1)
users=$((users - 1))
if [[ $force == 0 && $users -gt 0 ]]; then
  echo "$users" >"$PF_USERS"
  pf_log "still used by $users other caller(s); left running (stop.sh --force stops it)"
  exit 0
fi
rm -f "$PF_USERS"

pid=$(pf_master_pid)
postfix -c "$PF_ETC" stop >>"$PF_RUN/start.log" 2>&1 || true
for ((i = 0; i < 100; i++)); do
  pf_pid_alive "$PF_PIDFILE" || break
  sleep 0.1
done
if pf_pid_alive "$PF_PIDFILE"; then
  pf_log "master $pid still alive after 10 s, sending TERM"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
fi
pf_log "stopped (master pid $pid)"
