#!/usr/bin/env bash
# Shared by scripts/up, down, status: installs and runs the four real parts on loopback.
# Every address comes from the same env vars the Node processes read; a variable that is set
# explicitly names an existing server, which is only waited for, never started or stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools/bin"
DATA="$ROOT/.data"
TEMPORAL_VERSION=v1.5.1
OPA_VERSION=v1.22.2
TEST_SERVER_VERSION=1.31.0
# PostgreSQL 16 with pgvector, from the PyPI wheel of pgserver (README "Semantic memory": why).
PGSERVER_VERSION=0.1.4
PGSERVER_WHEEL_SHA256=d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813
SEARCH_ATTRIBUTES=(PkgVersion=Keyword PkgEnv=Keyword PkgLane=Keyword PkgStage=Keyword PkgPercent=Int)

DEFAULT_DATABASE_URL=postgres://pkg:pkg@127.0.0.1:55432/pkg
DEFAULT_REDIS_URL=redis://127.0.0.1:56379
DEFAULT_TEMPORAL_ADDRESS=127.0.0.1:7233
DEFAULT_PROMETHEUS_URL=http://127.0.0.1:9090
# PKG_PG_PORT only moves the port this checkout's own cluster listens on (a second checkout's test).
PG_PORT=${PKG_PG_PORT:-55432}
REDIS_PORT=56379
TEMPORAL_UI_PORT=8233
PROMETHEUS_PORT=9090
PROMETHEUS_DIR="$DATA/prometheus"
# Must match policy/config.ts: the targets file the pipeline worker keeps current, and its /metrics port.
PROMETHEUS_TARGETS_FILE=${PROMETHEUS_TARGETS_FILE:-$PROMETHEUS_DIR/targets/evaluators.json}
PIPELINE_METRICS_PORT=${PIPELINE_METRICS_PORT:-9464}
# The bootstrap admin token scripts/up keeps for the control-plane API; scripts/demo.ts reads it.
BOOTSTRAP_TOKEN_FILE="$DATA/bootstrap-admin.token"

owns_postgres() { [ -z "${DATABASE_URL:-}" ] || [ "$DATABASE_URL" = "$DEFAULT_DATABASE_URL" ]; }
owns_redis() { [ -z "${REDIS_URL:-}" ] || [ "$REDIS_URL" = "$DEFAULT_REDIS_URL" ]; }
owns_temporal() { [ -z "${TEMPORAL_ADDRESS:-}" ] || [ "$TEMPORAL_ADDRESS" = "$DEFAULT_TEMPORAL_ADDRESS" ]; }
owns_prometheus() { [ -z "${PROMETHEUS_URL:-}" ] || [ "$PROMETHEUS_URL" = "$DEFAULT_PROMETHEUS_URL" ]; }

ensure_node_modules() {
  [ -d "$ROOT/node_modules" ] || (cd "$ROOT" && npm ci --no-audit --no-fund >&2)
}

# Processes the demo left running with --keep.
stop_demo() {
  local pids="$DATA/demo/pids"
  [ -f "$pids" ] || return 0
  xargs -r kill 2>/dev/null <"$pids" || true
  rm -f "$pids"
}

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Waits until a command succeeds, up to $1 seconds.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not become healthy within ${seconds}s"
    sleep 0.3
  done
}

apt_install() {
  command -v apt-get >/dev/null || die "need $* but apt-get is missing: install it or point the env var at an existing server"
  [ "$(id -u)" = 0 ] || die "need $*: run as root to apt-get install, or point the env var at an existing server"
  if [ ! -f "$DATA/.apt-updated" ]; then apt-get update -qq >&2; mkdir -p "$DATA"; touch "$DATA/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

go_tool() { # name module version
  local name=$1 module=$2 version=$3 stamp="$TOOLS/.$1-$3"
  [ -x "$TOOLS/$name" ] && [ -f "$stamp" ] && return 0
  command -v go >/dev/null || die "Go >= 1.25 is needed to build $name from $module@$version"
  say "building $name $version from the Go module proxy (first time only, takes minutes)"
  mkdir -p "$TOOLS"
  CGO_ENABLED=0 GOBIN="$TOOLS" go install "$module@$version" >&2
  touch "$stamp"
}

# Temporal's time-skipping test server for the workflow tests: a Java program from Maven Central
# (the SDK's own download of it is not reachable from here), run through a small wrapper.
install_test_server() {
  local lib="$ROOT/.tools/test-server/lib" stamp="$TOOLS/.temporal-test-server-$TEST_SERVER_VERSION"
  [ -x "$TOOLS/temporal-test-server" ] && [ -f "$stamp" ] && return 0
  command -v mvn >/dev/null && command -v java >/dev/null || die "Java and Maven are needed for Temporal's test server"
  say "fetching Temporal's test server $TEST_SERVER_VERSION from Maven Central (first time only)"
  rm -rf "$lib" && mkdir -p "$lib" "$TOOLS"
  mvn -q -B -f "$ROOT/scripts/test-server/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
  printf '#!/bin/sh\nexec java -cp "%s/*" io.temporal.testserver.TestServer "$@"\n' "$lib" >"$TOOLS/temporal-test-server"
  chmod +x "$TOOLS/temporal-test-server"
  touch "$stamp"
}

install_tools() {
  install_test_server
  go_tool opa github.com/open-policy-agent/opa "$OPA_VERSION"
  if owns_temporal; then go_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_VERSION"; fi
  install_pg16
  if owns_redis && ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  # Recommends would add node-exporter, a second daemon; the server binary is all we run.
  if owns_prometheus && ! command -v prometheus >/dev/null; then apt_install --no-install-recommends prometheus; fi
}

# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user (created
# when no Debian package made it).
as_pg_owner() {
  # From /: the postgres user may not be able to enter the checkout (every path passed is absolute).
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

ensure_pg_owner() {
  [ "$(id -u)" = 0 ] || return 0
  id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
}

# $1 under this checkout, unless we are root in a checkout the postgres user cannot reach (under
# /root, or any 0700 parent); then a directory of this checkout's own under /var/lib named $2.
pg_reachable() {
  local want=$1 name=$2
  mkdir -p "$(dirname "$want")"
  ensure_pg_owner
  if [ "$(id -u)" = 0 ] && ! (cd / && runuser -u postgres -- test -x "$(dirname "$want")") 2>/dev/null; then
    echo "/var/lib/pkg-pipeline/$(printf %s "$ROOT" | sha256sum | cut -c1-16)/$name"
  else
    echo "$want"
  fi
}

# The cluster's directory: .data/pg16 (.data/pg held the PostgreSQL 15 cluster of earlier versions).
pg_dir() { pg_reachable "$DATA/pg16" pg16; }

# Where the PostgreSQL 16 binaries live: PKG_PG16_HOME, or .tools/pg16.
pg16_home() {
  if [ -n "${PKG_PG16_HOME:-}" ]; then echo "$PKG_PG16_HOME"; else pg_reachable "$ROOT/.tools/pg16" pg16-bin; fi
}

pg_bin() { echo "$(pg16_home)/bin"; }

# The wheel's pgserver/pginstall is a relocatable PostgreSQL 16.2 with pgvector 0.6.2 (vector.so and
# its extension files); no Python runs it. psql, initdb and pg_ctl link a renamed libpq that the
# wheel keeps in pgserver.libs and find through RPATH $ORIGIN/../../../pgserver.libs, so the wheel's
# layout is kept beside the link .tools/pg16 (the kernel resolves the link before $ORIGIN is read).
install_pg16() {
  local home stamp tree tmp
  home=$(pg16_home)
  stamp="$home/.pgserver-$PGSERVER_VERSION"
  [ -x "$home/bin/postgres" ] && [ -f "$stamp" ] && return 0
  command -v unzip >/dev/null || apt_install unzip
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "fetching PostgreSQL 16 with pgvector (PyPI wheel pgserver $PGSERVER_VERSION, first time only)"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 -d "$tmp" "pgserver==$PGSERVER_VERSION" >&2
  echo "$PGSERVER_WHEEL_SHA256  $(ls "$tmp"/pgserver-*.whl)" | sha256sum -c --quiet - >&2 ||
    die "the pgserver $PGSERVER_VERSION wheel does not have the pinned SHA-256"
  tree="$(dirname "$home")/pgserver-$PGSERVER_VERSION"
  rm -rf "$tree" "$home"
  mkdir -p "$(dirname "$home")"
  unzip -q "$tmp"/pgserver-*.whl 'pgserver/pginstall/*' 'pgserver.libs/*' -x 'pgserver/pginstall/include/*' -d "$tree"
  rm -rf "$tmp"
  chmod -R a+rX "$tree"
  ln -s "$tree/pgserver/pginstall" "$home"
  local tool
  for tool in postgres initdb pg_ctl pg_isready psql; do
    "$home/bin/$tool" --version >/dev/null 2>&1 || die "$home/bin/$tool does not run here: $(ldd "$home/bin/$tool" | grep 'not found' | tr -s ' \n\t' ' ')"
  done
  [ -f "$home/lib/postgresql/vector.so" ] || die "the pgserver wheel has no pgvector"
  touch "$stamp"
}

# The PostgreSQL 15 cluster an earlier version of this checkout ran from .data/pg with Debian's binaries.
legacy_pg_dir() { pg_reachable "$DATA/pg" pg; }

start_postgres() {
  local bin dir
  install_pg16
  bin=$(pg_bin)
  dir=$(pg_dir)
  [ ! -f "$(legacy_pg_dir)/postmaster.pid" ] ||
    die "the PostgreSQL 15 cluster of an earlier version runs from $(legacy_pg_dir): npm run down stops it (its data stays there; PostgreSQL 16 with pgvector starts empty in $dir)"
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 700 "$dir"
    as_pg_owner "$bin/initdb" -D "$dir" -U pkg --auth=trust -E UTF8 >/dev/null
  fi
  if ! "$bin/pg_isready" -h 127.0.0.1 -p $PG_PORT -q; then
    as_pg_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp -c fsync=off -c max_connections=200" start >/dev/null
  fi
  wait_for 30 PostgreSQL "$bin/pg_isready" -h 127.0.0.1 -p $PG_PORT
  if ! "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U pkg -d postgres -tAc "select 1 from pg_database where datname='pkg'" | grep -q 1; then
    "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U pkg -d postgres -qc "create database pkg" >/dev/null
  fi
  has_pgvector "postgres://pkg@127.0.0.1:$PG_PORT/postgres" ||
    die "the PostgreSQL on port $PG_PORT is not this checkout's PostgreSQL 16 (no pgvector): stop it or set PKG_PG_PORT"
}

has_pgvector() { "$(pg_bin)/psql" "$1" -tAc "select 1 from pg_available_extensions where name = 'vector'" 2>/dev/null | grep -q 1; }

stop_postgres() {
  local dir legacy
  dir=$(pg_dir)
  legacy=$(legacy_pg_dir)
  if [ -f "$legacy/postmaster.pid" ]; then
    as_pg_owner "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl" -D "$legacy" -m fast -w stop >/dev/null || true
  fi
  [ -f "$dir/postmaster.pid" ] || return 0
  as_pg_owner "$(pg_bin)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
}

start_redis() {
  mkdir -p "$DATA/redis"
  redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && return 0
  redis-server --bind 127.0.0.1 --port $REDIS_PORT --dir "$DATA/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log" >/dev/null
  wait_for 15 Redis redis-cli -p $REDIS_PORT ping
}

# Only a server this checkout started (its pidfile is under our .data) is ours to stop.
stop_redis() {
  [ -f "$DATA/redis/redis.pid" ] || return 0
  redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true
}

temporal_healthy() { "$TOOLS/temporal" operator cluster health --address "$DEFAULT_TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; }

start_temporal() {
  mkdir -p "$DATA"
  temporal_healthy && return 0
  local args=() sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  nohup "$TOOLS/temporal" server start-dev --ip 127.0.0.1 --port 7233 --ui-port $TEMPORAL_UI_PORT \
    --db-filename "$DATA/temporal.db" --log-level warn "${args[@]}" >"$DATA/temporal.log" 2>&1 &
  echo $! >"$DATA/temporal.pid"
  wait_for 60 Temporal temporal_healthy
  wait_for 30 "Temporal UI" curl -sf "http://127.0.0.1:$TEMPORAL_UI_PORT/"
}

stop_temporal() {
  [ -f "$DATA/temporal.pid" ] || return 0
  kill "$(cat "$DATA/temporal.pid")" 2>/dev/null || true
  rm -f "$DATA/temporal.pid"
}

# Scrapes every second so a gate sees data within a short bake. Evaluators come from the targets
# file the pipeline worker rewrites from the fleet registry (file-based discovery, no restart).
write_prometheus_config() {
  mkdir -p "$PROMETHEUS_DIR/data" "$(dirname "$PROMETHEUS_TARGETS_FILE")"
  [ -f "$PROMETHEUS_TARGETS_FILE" ] || echo '[]' >"$PROMETHEUS_TARGETS_FILE"
  cat >"$PROMETHEUS_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pkg-evaluator
    file_sd_configs:
      - files: ["$PROMETHEUS_TARGETS_FILE"]
        refresh_interval: 5s
  - job_name: pkg-pipeline
    static_configs:
      - targets: ["127.0.0.1:$PIPELINE_METRICS_PORT"]
EOF
}

prometheus_ready() { curl -sf "$DEFAULT_PROMETHEUS_URL/-/ready"; }

start_prometheus() {
  write_prometheus_config
  if prometheus_ready >/dev/null 2>&1; then
    # Ours: pick up a changed config without losing the series gathered so far.
    if [ -f "$PROMETHEUS_DIR/prometheus.pid" ]; then kill -HUP "$(cat "$PROMETHEUS_DIR/prometheus.pid")" 2>/dev/null || true; fi
    return 0
  fi
  nohup prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=2d --web.listen-address=127.0.0.1:$PROMETHEUS_PORT --log.level=warn \
    >"$PROMETHEUS_DIR/prometheus.log" 2>&1 &
  echo $! >"$PROMETHEUS_DIR/prometheus.pid"
  wait_for 30 Prometheus prometheus_ready
}

stop_prometheus() {
  [ -f "$PROMETHEUS_DIR/prometheus.pid" ] || return 0
  kill "$(cat "$PROMETHEUS_DIR/prometheus.pid")" 2>/dev/null || true
  rm -f "$PROMETHEUS_DIR/prometheus.pid"
}

wait_external() {
  if ! owns_postgres; then
    wait_for 30 "PostgreSQL at \$DATABASE_URL" "$(pg_bin)/psql" "$DATABASE_URL" -tAc 'select 1'
    has_pgvector "$DATABASE_URL" || die "the PostgreSQL at \$DATABASE_URL has no pgvector: install it so that CREATE EXTENSION vector works"
  fi
  owns_redis || wait_for 30 "Redis at \$REDIS_URL" redis-cli -u "$REDIS_URL" ping
  owns_temporal || wait_for 30 "Temporal at \$TEMPORAL_ADDRESS" "$TOOLS/temporal" operator cluster health --address "$TEMPORAL_ADDRESS"
  owns_prometheus || wait_for 30 "Prometheus at \$PROMETHEUS_URL" curl -sf "$PROMETHEUS_URL/-/ready"
}
