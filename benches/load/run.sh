#!/usr/bin/env bash
# Runs the raw-HTTP ceiling and the given presets against a fresh contestd on SQLite (default) or
# PostgreSQL (DATABASE_URL=postgres://…/db, emptied first), with the server's default settings
# except the per-address login quota (every simulated student logs in from 127.0.0.1).
#   benches/load/run.sh seed classroom stadium
#   DATABASE_URL=postgres://postgres@127.0.0.1/contestd_load benches/load/run.sh classroom
# Against servers already running (e.g. nodes behind a proxy; their login quota raised, their
# admin password ADMIN_PASSWORD, default load-admin-password), without the ceiling:
#   HOST=http://127.0.0.1:8080 benches/load/run.sh stadium
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p contestd -p contestd-load >&2
out=${OUT:-target/load}
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$out"
password=${ADMIN_PASSWORD:-load-admin-password}
if [ -n "${HOST:-}" ]; then
  label=${LABEL:-host}
  for preset in "$@"; do
    "$target/release/contestd-load" --host "$HOST" --admin-password "$password" \
      --preset "$preset" --json "$out/$preset-$label.json" --plot "$out/$preset-$label.svg" -- --quiet
  done
  exit 0
fi
dir=$(mktemp -d)
url=${DATABASE_URL:-sqlite://$dir/load.db}
if [[ $url == postgres* ]]; then
  db=${url##*/}
  psql "${url%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
fi
port=${PORT:-18090}
RUST_LOG=warn "$target/release/contestd" serve --database-url "$url" --bind "127.0.0.1:$port" \
  --admin-password "$password" --login-per-minute 1000000 >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
backend=$([[ $url == postgres* ]] && echo postgres || echo sqlite)
load() { "$target/release/contestd-load" --host "http://127.0.0.1:$port" --admin-password "$password" \
  --server-pid "$server" "$@" -- --quiet; }
load --ceiling 64 --json "$out/ceiling-$backend.json"
for preset in "$@"; do
  load --preset "$preset" --json "$out/$preset-$backend.json" --plot "$out/$preset-$backend.svg"
done
