# Sourced by scripts/test: find a NATS server with JetStream for the tests, or start a throw-away one.
# Exports STOCKFLOW_TEST_NATS_URL. Needs on_exit (scripts/lib/cleanup.sh) and .venv.

# The INFO line a NATS server greets a client with; fails when nothing answers on $1:$2.
nats_greeting() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r line <&3 && printf "%s\n" "$line"' \
    "$1" "$2" 2>/dev/null
}

nats_has_jetstream() {
  local greeting
  greeting=$(nats_greeting "$1" "$2") || return 1
  [[ $greeting == INFO* && $greeting =~ \"jetstream\":\ ?true ]]
}

nats_binary() {
  local path
  for path in "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/bin/nats-server; do
    if [ -n "$path" ] && [ -x "$path" ]; then
      echo "$path"
      return 0
    fi
  done
  return 1
}

# Debian's package; as root directly, else through sudo (without asking for a password).
install_nats_server() {
  local as=()
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || return 1
    as=(sudo -n)
  fi
  echo "==> installing nats-server (Debian package)"
  "${as[@]}" apt-get update -qq >/dev/null || return 1
  "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
}

start_throwaway_nats() {
  local binary port tries
  binary=$(nats_binary) || { install_nats_server && binary=$(nats_binary); } || return 1
  NATS_TMP=$(mktemp -d /tmp/stockflow-nats.XXXXXX)
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$binary" -js -a 127.0.0.1 -p "$port" -sd "$NATS_TMP/store" -l "$NATS_TMP/log" >/dev/null 2>&1 &
  NATS_PID=$!
  on_exit 'echo "==> stopping throw-away NATS"; kill "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; rm -rf "$NATS_TMP"'
  for tries in $(seq 100); do
    nats_has_jetstream 127.0.0.1 "$port" && break
    kill -0 "$NATS_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! nats_has_jetstream 127.0.0.1 "$port"; then
    echo "!! nats-server did not come up with JetStream on 127.0.0.1:$port:" >&2
    tail -n 5 "$NATS_TMP/log" >&2 2>/dev/null || true
    return 1
  fi
  export STOCKFLOW_TEST_NATS_URL="nats://127.0.0.1:$port"
}

find_nats() {
  if [ -n "${STOCKFLOW_TEST_NATS_URL:-}" ]; then
    echo "==> NATS from STOCKFLOW_TEST_NATS_URL"
    return 0
  fi
  local port="${STOCKFLOW_TEST_NATS_PORT:-4222}"
  if nats_has_jetstream 127.0.0.1 "$port"; then
    export STOCKFLOW_TEST_NATS_URL="nats://127.0.0.1:$port"
    echo "==> NATS with JetStream on 127.0.0.1:$port"
    return 0
  fi
  if nats_greeting 127.0.0.1 "$port" >/dev/null; then
    echo "==> NATS on 127.0.0.1:$port has no JetStream: starting one of our own"
  fi
  if start_throwaway_nats; then
    echo "==> NATS: started a throw-away server with JetStream ($STOCKFLOW_TEST_NATS_URL)"
    return 0
  fi
  if [ "${CI:-}" = "true" ]; then
    echo "!! no NATS server with JetStream and CI=true: the NATS tests must run in CI" >&2
    exit 1
  fi
  echo "!!" >&2
  echo "!! WARNING: no NATS server with JetStream: the NATS tests will be SKIPPED" >&2
  echo "!! set STOCKFLOW_TEST_NATS_URL or install nats-server to run them" >&2
  echo "!!" >&2
}
