#!/usr/bin/env bash
# Install the real servers used by integration tests, without Docker.
#   scripts/servers/install.sh [redis|prometheus|kafka|postgres|ferretdb|mailpit|chromium|all]...
# Idempotent: anything already installed (or cached) is skipped.
#   redis, prometheus, postgres -> Debian packages (apt-get; needs root or sudo)
#   chromium          -> Debian's package, for the storefront's browser tests (playwright-core
#                        drives /usr/bin/chromium; no browser is downloaded at run time). Not a
#                        server: start.sh and stop.sh ignore it; `all` installs it too.
#   kafka             -> jars from Maven Central into $STOREFRONT_CACHE/kafka
#   ferretdb          -> `go build` into $STOREFRONT_CACHE/ferretdb (with postgres when
#                        FERRETDB_BACKEND=postgresql, the default)
#   mailpit           -> `go install github.com/axllent/mailpit@$MAILPIT_VERSION` into
#                        $STOREFRONT_CACHE/mailpit/<version>/bin (an SMTP server with an HTTP API,
#                        the real e-mail server of the tests)
set -euo pipefail

# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "apt-get needs root; run as root or install sudo"
  SUDO=(sudo)
fi

deb_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

apt_has_candidate() {
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [[ -n "$cand" && "$cand" != "(none)" ]]
}

# Install Debian packages without letting their maintainer scripts start
# system services: our own instances run on our own ports.
apt_install() {
  local -a missing=()
  local p
  for p in "$@"; do deb_installed "$p" || missing+=("$p"); done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: already installed: $*"
    return 0
  fi

  local need_update=0
  for p in "${missing[@]}"; do apt_has_candidate "$p" || need_update=1; done
  if [[ $need_update -eq 1 ]]; then
    log "apt: updating package lists"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  fi

  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary: created by storefront scripts/servers/install.sh\nexit 101\n' |
      "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    created_policy=1
  fi
  local rc=0
  log "apt: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >&2 || rc=$?
  if [[ $rc -ne 0 && $need_update -eq 0 ]]; then
    log "apt: install failed; updating package lists and retrying"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    rc=0
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >&2 || rc=$?
  fi
  if [[ $created_policy -eq 1 ]]; then "${SUDO[@]}" rm -f "$policy"; fi
  [[ $rc -eq 0 ]] || die "apt-get install ${missing[*]} failed"
}

install_redis() {
  apt_install redis-server redis-tools
  command -v redis-server >/dev/null || die "redis-server not on PATH after install"
}

install_postgres() {
  apt_install postgresql
  [[ -x "$(postgres_bindir)/postgres" && -x "$(postgres_bindir)/initdb" ]] || die "postgres: no postgres/initdb binaries under /usr/lib/postgresql after install"
}

install_prometheus() {
  apt_install prometheus
  command -v prometheus >/dev/null || die "prometheus not on PATH after install"
}

install_kafka() {
  if [[ -f "$KAFKA_HOME/.complete" ]]; then
    log "kafka: $KAFKA_VERSION already cached in $KAFKA_HOME"
    return 0
  fi
  command -v mvn >/dev/null || die "kafka: mvn (Maven) is required"
  command -v java >/dev/null || die "kafka: java is required"
  log "kafka: fetching kafka_$KAFKA_SCALA:$KAFKA_VERSION and dependencies from Maven Central"
  local work="$KAFKA_HOME.tmp"
  rm -rf "$work"
  mkdir -p "$work" "$MAVEN_REPO"
  # kafka-tools provides TopicCommand etc.; connect-runtime (jetty/jersey) is
  # only needed by Kafka Connect, so it is excluded to keep the download small.
  cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.storefront</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$KAFKA_SCALA</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion>
          <groupId>org.apache.kafka</groupId>
          <artifactId>connect-runtime</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  mvn -B -q -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$MAVEN_REPO" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1 ||
    { tail -n 40 "$work/mvn.log" >&2; die "kafka: maven dependency download failed"; }
  [[ -f "$work/libs/kafka_$KAFKA_SCALA-$KAFKA_VERSION.jar" ]] ||
    die "kafka: kafka_$KAFKA_SCALA-$KAFKA_VERSION.jar missing after download"
  rm -rf "$KAFKA_HOME"
  mv "$work" "$KAFKA_HOME"
  printf '%s\n' "$KAFKA_VERSION" >"$KAFKA_HOME/.complete"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
}

install_ferretdb() {
  if [[ -x "$FERRETDB_BIN" ]]; then
    log "ferretdb: $FERRETDB_VERSION already built at $FERRETDB_BIN"
    return 0
  fi
  command -v go >/dev/null || die "ferretdb: go is required"
  log "ferretdb: building github.com/FerretDB/FerretDB/cmd/ferretdb@$FERRETDB_VERSION"
  mkdir -p "$GO_CACHE_ROOT"/{path,mod,build}
  local -a goenv=(
    GOPATH="$GO_CACHE_ROOT/path"
    GOMODCACHE="$GO_CACHE_ROOT/mod"
    GOCACHE="$GO_CACHE_ROOT/build"
    GOTOOLCHAIN=local
    GOFLAGS="-buildvcs=false -modcacherw" # -modcacherw: cache stays deletable
    CGO_ENABLED=0                          # SQLite backend is pure Go (modernc.org/sqlite)
  )
  # Plain `go install ...@version` does not work for FerretDB v1:
  #  - it also asks the proxy for the module's version list (deprecation check),
  #    which a registry mirror may refuse;
  #  - the binary panics at startup unless build/version/version.txt is embedded
  #    (normally generated by `bin/task gen-version`, absent from the module zip).
  # So: download the exact module version, copy its source, add version.txt, build.
  local src dir="$FERRETDB_HOME.tmp"
  src="$(cd "$GO_CACHE_ROOT" && env "${goenv[@]}" GO111MODULE=on go mod download -json \
    "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$src" && -d "$src" ]] || die "ferretdb: go mod download failed"
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  cp -R "$src" "$dir/src"
  chmod -R u+w "$dir/src"
  printf '%s\n' "$FERRETDB_VERSION" >"$dir/src/build/version/version.txt"
  printf '%s\n' "storefront-local" >"$dir/src/build/version/package.txt"
  (cd "$dir/src" && env "${goenv[@]}" go build -trimpath -o "$dir/bin/ferretdb" ./cmd/ferretdb) >&2 ||
    die "ferretdb: go build failed"
  "$dir/bin/ferretdb" --version >/dev/null || die "ferretdb: built binary does not run"
  rm -rf "$dir/src" "$FERRETDB_HOME"
  mv "$dir" "$FERRETDB_HOME"
  log "ferretdb: built $FERRETDB_BIN"
}

install_mailpit() {
  if [[ -x "$MAILPIT_BIN" ]]; then
    log "mailpit: $MAILPIT_VERSION already built at $MAILPIT_BIN"
    return 0
  fi
  command -v go >/dev/null || die "mailpit: go is required"
  log "mailpit: building github.com/axllent/mailpit@$MAILPIT_VERSION"
  mkdir -p "$GO_CACHE_ROOT"/{path,mod,build}
  local dir="$MAILPIT_HOME.tmp"
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  # Same Go environment as FerretDB's (one module and build cache). Its web UI is embedded in the
  # module; its SQLite is pure Go (modernc.org/sqlite), so no cgo. The version is stamped in, as
  # its release builds do (otherwise it reports "dev").
  (cd "$GO_CACHE_ROOT" && env \
    GOPATH="$GO_CACHE_ROOT/path" \
    GOMODCACHE="$GO_CACHE_ROOT/mod" \
    GOCACHE="$GO_CACHE_ROOT/build" \
    GOBIN="$dir/bin" \
    GOTOOLCHAIN=local \
    GOFLAGS="-buildvcs=false -modcacherw" \
    CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION" \
    "github.com/axllent/mailpit@$MAILPIT_VERSION") >&2 || die "mailpit: go install failed"
  "$dir/bin/mailpit" version --no-release-check >/dev/null 2>&1 || "$dir/bin/mailpit" --help >/dev/null 2>&1 ||
    die "mailpit: built binary does not run"
  rm -rf "$MAILPIT_HOME"
  mv "$dir" "$MAILPIT_HOME"
  log "mailpit: built $MAILPIT_BIN"
}

install_chromium() {
  apt_install chromium
  [[ -x /usr/bin/chromium ]] || die "chromium: /usr/bin/chromium missing after install"
}

main() {
  local -a servers=()
  local a chromium=0
  [[ $# -eq 0 ]] && set -- all
  for a in "$@"; do
    case "$a" in
      chromium) chromium=1 ;;
      all) chromium=1; servers+=("$a") ;;
      *) servers+=("$a") ;;
    esac
  done
  local s
  if [[ ${#servers[@]} -gt 0 ]]; then
    resolve_servers "${servers[@]}"
    for s in "${SERVERS[@]}"; do
      "install_$s"
    done
  fi
  if [[ $chromium -eq 1 ]]; then install_chromium; fi
  log "done (cache: $STOREFRONT_CACHE)"
}

main "$@"
