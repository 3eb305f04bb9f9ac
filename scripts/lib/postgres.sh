# Sourced by scripts/test: find a PostgreSQL server for the tests, or start a throw-away one.
# Exports STOCKFLOW_TEST_POSTGRES_URL (a server URL whose user may create databases).
# Needs on_exit (scripts/lib/cleanup.sh) and .venv.

pg_answers() {
  .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
}

pg_tool() {
  local name="$1" dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  return 1
}

start_throwaway_cluster() {
  local initdb pg_ctl port as=()
  initdb=$(pg_tool initdb) && pg_ctl=$(pg_tool pg_ctl) || return 1
  PG_TMP=$(mktemp -d /tmp/stockflow-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    id postgres >/dev/null 2>&1 && command -v runuser >/dev/null || return 1
    chown postgres "$PG_TMP"
    as=(runuser -u postgres --)
  fi
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as[@]}" "$initdb" -D "$PG_TMP/data" -U postgres -A trust >/dev/null || return 1
  "${as[@]}" "$pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1" start >/dev/null || return 1
  PG_STOP=("${as[@]}" "$pg_ctl" -D "$PG_TMP/data" -m immediate stop)
  on_exit 'echo "==> stopping throw-away PostgreSQL"; "${PG_STOP[@]}" >/dev/null 2>&1; rm -rf "$PG_TMP"'
  export STOCKFLOW_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}

find_postgres() {
  if [ -n "${STOCKFLOW_TEST_POSTGRES_URL:-}" ]; then
    echo "==> PostgreSQL from STOCKFLOW_TEST_POSTGRES_URL"
    return 0
  fi
  local local_url="postgresql://postgres@127.0.0.1:5432/postgres"
  if pg_answers "$local_url"; then
    export STOCKFLOW_TEST_POSTGRES_URL="$local_url"
    echo "==> PostgreSQL on 127.0.0.1:5432"
    return 0
  fi
  if start_throwaway_cluster; then
    echo "==> PostgreSQL: started a throw-away cluster ($STOCKFLOW_TEST_POSTGRES_URL)"
    return 0
  fi
  if [ "${CI:-}" = "true" ]; then
    echo "!! no PostgreSQL found and CI=true: the PostgreSQL tests must run in CI" >&2
    exit 1
  fi
  echo "!!" >&2
  echo "!! WARNING: no PostgreSQL found: the PostgreSQL tests will be SKIPPED" >&2
  echo "!! set STOCKFLOW_TEST_POSTGRES_URL or install PostgreSQL to run them" >&2
  echo "!!" >&2
}
