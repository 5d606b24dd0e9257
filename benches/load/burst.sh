#!/usr/bin/env bash
# The durable-submission rate: a fresh contestd on SQLite (default) or PostgreSQL
# (DATABASE_URL=postgres://…/db, emptied first), STUDENTS students (50,000) logged in beforehand,
# then all submitting at once — first through contestd-load's own client (--burst), then, on a
# second fresh server, through wrk (benches/load/submit.lua), whose client costs the shared cores
# far less. Argon2 runs at a trivial cost here: only the set-up logs in, and it is not measured.
#   benches/load/burst.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1/contestd_load benches/load/burst.sh
# CONTESTD=path/to/contestd runs another build of the server (to compare builds); WRK_SECS (2)
# sets the wrk runs' length (shorter than STUDENTS / rate, or every token is used up first).
# A third run ages the tokens first: wrk starts AGE_SECS (65) after the logins, as at the end of
# an exam, when a token cache that trusts entries for a minute only would read every session.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p contestd -p contestd-load >&2
students=${STUDENTS:-50000}
inflight=${INFLIGHT:-256}
out=${OUT:-target/load}
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$out"
port=${PORT:-18091}
password=load-admin-password
backend=sqlite
[[ ${DATABASE_URL:-} == postgres* ]] && backend=postgres
server=
dir=$(mktemp -d)
trap '[[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$dir"' EXIT

fresh_server() {
  [[ -n $server ]] && { kill $server; wait $server || true; }
  local url=${DATABASE_URL:-sqlite://$dir/burst-$RANDOM.db}
  if [[ $backend == postgres ]]; then
    local db=${url##*/}
    psql "${url%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
  fi
  RUST_LOG=warn "${CONTESTD:-$target/release/contestd}" serve --database-url "$url" --bind "127.0.0.1:$port" \
    --admin-password "$password" --argon2-memory-kib 64 --argon2-iterations 1 \
    --login-per-minute 100000000 --quota-per-minute 100000000 --quota-burst 100000000 \
    >>"$out/burst-server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.1; done
  echo "the server did not start; see $out/burst-server.log" >&2
  exit 1
}
load() { "$target/release/contestd-load" --host "http://127.0.0.1:$port" --admin-password "$password" \
  --server-pid "$server" --students "$students" --burst "$inflight" "$@"; }

if [[ -z ${WRK_ONLY:-} ]]; then  # WRK_ONLY=1: the wrk runs only
  echo "## $backend: contestd-load --burst $inflight, $students students"
  fresh_server
  load --plot "$out/burst-$backend.svg"
fi

echo "## $backend: wrk -t1 -c$inflight, $students students"
fresh_server
load --for-wrk "$dir/wrk" >&2
DIR="$dir/wrk" wrk -t1 -c"$inflight" -d"${WRK_SECS:-2}s" --latency -s benches/load/submit.lua "$(cat "$dir/wrk/url")"

age=${AGE_SECS:-65}
echo "## $backend: wrk -t1 -c$inflight, $students students, tokens ${age} s old"
fresh_server
load --for-wrk "$dir/wrk-aged" >&2
sleep "$age"
DIR="$dir/wrk-aged" wrk -t1 -c"$inflight" -d"${WRK_SECS:-2}s" --latency -s benches/load/submit.lua "$(cat "$dir/wrk-aged/url")"
