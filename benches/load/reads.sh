#!/usr/bin/env bash
# Warm reads set against the HTTP ceiling, with wrk (Debian package `wrk`): GET /health (the
# ceiling), then one student's contest view, own submission and contest list, each for SECS (15)
# seconds over 64 connections, on a fresh server on SQLite (default) or PostgreSQL
# (DATABASE_URL=postgres://…/db, emptied first). One student makes every request, so the
# per-user quota is lifted. CONTESTD=path/to/contestd runs another build (to compare builds).
#   benches/load/reads.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p contestd >&2
bin=${CONTESTD:-target/release/contestd}
port=${PORT:-18093}
password=load-admin-password
dir=$(mktemp -d)
url=${DATABASE_URL:-sqlite://$dir/reads.db}
if [[ $url == postgres* ]]; then
  db=${url##*/}
  psql "${url%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
fi
"$bin" demo --database-url "$url" --students 1 --admin-password "$password" >/dev/null
RUST_LOG=warn "$bin" serve --database-url "$url" --bind "127.0.0.1:$port" \
  --quota-per-minute 100000000 --quota-burst 100000000 >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
token=$(curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
  -d '{"username":"student0001","password":"student-pass"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
curl -sf "$base/api/contests/1/submissions" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"answers":[]}' >/dev/null
for path in /health /api/contests/1 /api/contests/1/my-submission /api/contests; do
  echo "## GET $path"
  wrk -t1 -c64 -d"${SECS:-15}s" --latency -H "authorization: Bearer $token" "$base$path" |
    grep -E "Requests/sec|  (50|99)%|Non-2xx|Socket errors"
done
