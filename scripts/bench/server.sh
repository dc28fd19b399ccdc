# Shared by the HTTP benchmark scripts (sourced, not run): installs wrk if missing, builds or takes
# the binary, starts `keyway serve` on a fresh SQLite database with a random root key, and defines
# `call OP BODY` and `field NAME`. Expects `repo`, `pin`, `say` and `die`; sets `bin`, `tmp`,
# `base`, `server_pid`, `server_cpu` and `wrk_cpu`. The server inherits the caller's environment
# and `ulimit`s.

if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk (apt-get)"
  sudo=""
  [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq wrk >&2
fi
command -v curl >/dev/null 2>&1 || die "curl is required"

if [[ -n "${KEYWAY_BIN:-}" ]]; then
  bin="$KEYWAY_BIN"
  say "using KEYWAY_BIN=$bin (not rebuilding)"
else
  say "building: cargo build --release -p keyway"
  cargo build --release -p keyway >&2
  bin="$repo/target/release/keyway"
fi
[[ -x "$bin" ]] || die "no executable at $bin"

# Two cores are shared by the server and the load generator. Pinning each to its own core keeps
# them from preempting each other mid-request, which is what makes p99 repeatable run to run.
# Pinned, the server's Tokio runtime sees one CPU and runs one worker thread.
server_cpu=() wrk_cpu=()
if [[ "$pin" == "1" ]] && command -v taskset >/dev/null 2>&1 && [[ "$(nproc --all)" -ge 2 ]]; then
  server_cpu=(taskset -c 0)
  wrk_cpu=(taskset -c 1)
  say "pinning: server on CPU 0, wrk on CPU 1"
else
  say "no CPU pinning"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/keyway-bench-http.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # Graceful shutdown flushes queued writes; do not wait forever for it.
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  exec 3<&- 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A random root key per run: the database is fresh anyway, and nothing guessable listens.
KEYWAY_ROOT_KEY="kwroot_bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export KEYWAY_ROOT_KEY

# The server prints `listening on http://ADDR` as its first stdout line once it accepts
# connections; reading it through a FIFO waits exactly that long, with no polling.
mkfifo "$tmp/stdout"
say "starting $bin serve on a fresh database in $tmp"
KEYWAY_LOG="${KEYWAY_LOG:-warn}" "${server_cpu[@]}" "$bin" serve --listen 127.0.0.1:0 \
  --database "sqlite://$tmp/bench.db" >"$tmp/stdout" 2>"$tmp/server.log" &
server_pid=$!
exec 3<"$tmp/stdout"
if ! read -r -t 60 -u 3 first_line; then
  cat "$tmp/server.log" >&2 || true
  die "the server did not report its address within 60 s"
fi
[[ "$first_line" =~ ^listening\ on\ (http://[0-9.]+:[0-9]+)$ ]] || die "unexpected first line: $first_line"
base="${BASH_REMATCH[1]}"
say "server $server_pid listening on $base"

# POST /v2/<op> with the root key; prints the body, fails on a non-200.
call() {
  local op="$1" body="$2"
  curl -sS --fail-with-body -X POST "$base/v2/$op" \
    -H "Authorization: Bearer $KEYWAY_ROOT_KEY" -H 'Content-Type: application/json' -d "$body"
}
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
