# shellcheck shell=bash disable=SC2034 # variables are used by the scripts sourcing this file
# Shared settings and helpers for scripts/servers/*.sh. Sourced, not executed.

SERVERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVERS_DIR/../.." && pwd)"

# Reusable cache (downloads, builds) and per-checkout runtime state.
STOREFRONT_CACHE="${STOREFRONT_CACHE:-$HOME/.cache/storefront}"
STOREFRONT_RUN="${STOREFRONT_RUN:-$REPO_ROOT/.run/servers}"

# Versions.
KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
KAFKA_SCALA="${KAFKA_SCALA:-2.13}"
SLF4J_VERSION="${SLF4J_VERSION:-1.7.36}" # must match the slf4j-api that kafka pulls in
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
# FerretDB's storage: postgresql (a private PostgreSQL cluster, the "postgres" server, started
# with it) or sqlite. See docs/read-side-performance.md for why PostgreSQL is the default.
FERRETDB_BACKEND="${FERRETDB_BACKEND:-postgresql}"
MAILPIT_VERSION="${MAILPIT_VERSION:-v1.33.1}"

# Ports (deliberately non-default so they don't collide with system services).
REDIS_PORT="${REDIS_PORT:-6390}"
KAFKA_PORT="${KAFKA_PORT:-9093}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9094}"
FERRETDB_PORT="${FERRETDB_PORT:-27027}"
POSTGRES_PORT="${POSTGRES_PORT:-5439}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9099}"
MAILPIT_SMTP_PORT="${MAILPIT_SMTP_PORT:-1026}"
MAILPIT_HTTP_PORT="${MAILPIT_HTTP_PORT:-8026}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms128m -Xmx512m}"

# Derived locations.
KAFKA_HOME="$STOREFRONT_CACHE/kafka/$KAFKA_SCALA-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
FERRETDB_HOME="$STOREFRONT_CACHE/ferretdb/$FERRETDB_VERSION"
FERRETDB_BIN="$FERRETDB_HOME/bin/ferretdb"
MAILPIT_HOME="$STOREFRONT_CACHE/mailpit/$MAILPIT_VERSION"
MAILPIT_BIN="$MAILPIT_HOME/bin/mailpit"
GO_CACHE_ROOT="${GO_CACHE_ROOT:-$STOREFRONT_CACHE/go}"
MAVEN_REPO="$STOREFRONT_CACHE/m2"

ALL_SERVERS=(redis kafka ferretdb prometheus mailpit) # plus postgres, with FerretDB on PostgreSQL

# PostgreSQL from Debian: the newest installed major version's binaries.
postgres_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [[ -n "$d" ]] || d="$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/postgres)")"
  printf '%s\n' "$d"
}

# The private PostgreSQL cluster's directory: in the run directory when the user PostgreSQL runs
# as can reach it (run as root, it runs as `postgres`, which cannot pass a 0700 home directory);
# otherwise a directory of its own under /var/tmp, named after the run directory (stable across
# starts, one per checkout).
postgres_dir() {
  local dir="$STOREFRONT_RUN/postgres"
  if [[ $(id -u) -ne 0 ]] || setpriv --reuid=postgres --regid=postgres --init-groups --reset-env -- test -x "$STOREFRONT_RUN" 2>/dev/null; then
    printf '%s\n' "$dir"
  else
    printf '/var/tmp/storefront-postgres/%s\n' "$(printf '%s' "$STOREFRONT_RUN" | sha1sum | cut -c1-12)"
  fi
}

log() { printf '[servers] %s\n' "$*" >&2; }
die() { printf '[servers] ERROR: %s\n' "$*" >&2; exit 1; }

# Expand "all"/empty into the global SERVERS array and validate names. FerretDB on PostgreSQL
# brings the postgres server along (just before it), so `ferretdb` alone is a whole document store.
SERVERS=()
resolve_servers() {
  local s
  local -a named=()
  SERVERS=()
  if [[ $# -eq 0 ]]; then set -- all; fi
  case "$FERRETDB_BACKEND" in
    postgresql | sqlite) ;;
    *) die "FERRETDB_BACKEND=$FERRETDB_BACKEND (expected: postgresql|sqlite)" ;;
  esac
  for s in "$@"; do
    case "$s" in
      all) named+=("${ALL_SERVERS[@]}") ;;
      redis | kafka | postgres | ferretdb | prometheus | mailpit) named+=("$s") ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown server '$s' (expected: redis|kafka|postgres|ferretdb|prometheus|mailpit|all)" ;;
    esac
  done
  for s in "${named[@]}"; do
    if [[ " ${SERVERS[*]} " == *" $s "* ]]; then continue; fi
    if [[ "$s" == ferretdb && "$FERRETDB_BACKEND" == postgresql && " ${SERVERS[*]} " != *" postgres "* ]]; then SERVERS+=(postgres); fi
    SERVERS+=("$s")
  done
}

usage() {
  printf 'usage: %s [redis|kafka|postgres|ferretdb|prometheus|mailpit|all]...\n' "$(basename "$0")"
}

pid_file() { printf '%s/%s.pid\n' "$STOREFRONT_RUN" "$1"; }
log_file() { printf '%s/%s.log\n' "$STOREFRONT_RUN" "$1"; }

# Prints the PID recorded for a server if that process is still alive.
running_pid() {
  local pf pid
  pf="$(pid_file "$1")"
  [[ -f "$pf" ]] || return 1
  pid="$(tr -dc '0-9' <"$pf")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Print environment exports for the configured ports.
print_env() {
  cat <<EOF
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export MONGODB_URL=mongodb://127.0.0.1:$FERRETDB_PORT/storefront
export PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
export SMTP_URL=smtp://127.0.0.1:$MAILPIT_SMTP_PORT
export MAILPIT_URL=http://127.0.0.1:$MAILPIT_HTTP_PORT
EOF
}
