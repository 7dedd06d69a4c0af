# shellcheck shell=bash
# Source me: `. scripts/servers/env.sh`
# Exports the connection URLs for the servers started by scripts/servers/start.sh
# (defaults, or the *_PORT variables already set in your shell).
# Sets no shell options, so it is safe to source into an interactive shell.

REDIS_PORT="${REDIS_PORT:-6390}"
KAFKA_PORT="${KAFKA_PORT:-9093}"
FERRETDB_PORT="${FERRETDB_PORT:-27027}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9099}"
MAILPIT_SMTP_PORT="${MAILPIT_SMTP_PORT:-1026}"
MAILPIT_HTTP_PORT="${MAILPIT_HTTP_PORT:-8026}"

export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export MONGODB_URL="mongodb://127.0.0.1:$FERRETDB_PORT/storefront"
export PROMETHEUS_URL="http://127.0.0.1:$PROMETHEUS_PORT"
export SMTP_URL="smtp://127.0.0.1:$MAILPIT_SMTP_PORT"
export MAILPIT_URL="http://127.0.0.1:$MAILPIT_HTTP_PORT"
