#!/usr/bin/env bash
# Stop servers started by start.sh.
#   scripts/servers/stop.sh [redis|kafka|postgres|ferretdb|prometheus|mailpit|all]...
# Only the PIDs recorded in $STOREFRONT_RUN/<name>.pid are signalled (TERM, or INT for
# postgres: its fast shutdown; then KILL after STOP_TIMEOUT seconds). Nothing is killed by
# name or pattern. FerretDB on PostgreSQL (the default) stops its postgres too, after it.
set -euo pipefail

# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT="${STOP_TIMEOUT:-30}"

# The executable we expect behind a recorded PID (guards against PID reuse).
expected_exe() {
  case "$1" in
    redis) echo redis-server ;;
    kafka) echo java ;;
    postgres) echo postgres ;;
    ferretdb) echo ferretdb ;;
    prometheus) echo prometheus ;;
    mailpit) echo mailpit ;;
  esac
}

stop_one() {
  local name="$1" pf pid exe
  pf="$(pid_file "$name")"
  if [[ ! -f "$pf" ]]; then
    log "$name: not running (no pid file)"
    return 0
  fi
  if ! pid="$(running_pid "$name")"; then
    log "$name: not running (stale pid file removed)"
    rm -f "$pf" "$STOREFRONT_RUN/$name.port"
    return 0
  fi
  exe="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  if [[ "$exe" != "$(expected_exe "$name")" ]]; then
    log "$name: pid $pid is now '$exe', not ours; removing stale pid file without signalling"
    rm -f "$pf" "$STOREFRONT_RUN/$name.port"
    return 0
  fi
  log "$name: stopping pid $pid"
  if [[ "$name" == postgres ]]; then
    kill -INT "$pid" 2>/dev/null || true # fast shutdown: does not wait for clients to leave
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name: still alive after ${STOP_TIMEOUT}s; sending SIGKILL to pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    die "$name: pid $pid did not exit"
  fi
  rm -f "$pf" "$STOREFRONT_RUN/$name.port"
  log "$name: stopped"
}

main() {
  resolve_servers "$@"
  # `all` stops a postgres that is running whatever FERRETDB_BACKEND says now.
  if [[ $# -eq 0 || " $* " == *" all "* ]] && [[ " ${SERVERS[*]} " != *" postgres "* ]]; then SERVERS=(postgres "${SERVERS[@]}"); fi
  local s i
  # Reverse order of start: prometheus/ferretdb first, redis last (harmless either way).
  for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
    s="${SERVERS[i]}"
    stop_one "$s"
  done
}

main "$@"
