#!/usr/bin/env bash
# Regrading after a key correction: a fresh contestd on SQLite (default) or PostgreSQL
# (DATABASE_URL=postgres://…/db, emptied first); contestd-load creates STUDENTS (10,000)
# students, enrolls them, creates an open contest of QUESTIONS (20) questions of the four types,
# logs everyone in and gets one submission from each (`--burst`, varied answers, each stored
# score checked); then RUNS (3) times `PATCH /api/contests/{id}/questions/{qid}` moves the key of
# the first single-choice question to another option, timed from the client (curl), which
# answers once every submission is regraded and committed. Argon2 runs at a trivial cost: only
# the set-up logs in. Needs jq.
#   benches/load/regrade.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1/contestd_load benches/load/regrade.sh
# CONTESTD=path/to/contestd runs another build of the server. MIX=single makes the contest of
# single-choice questions only (contestd-load --question-mix).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p contestd -p contestd-load >&2
target=${CARGO_TARGET_DIR:-target}
students=${STUDENTS:-10000}
questions=${QUESTIONS:-20}
runs=${RUNS:-3}
mix=${MIX:-mixed}
out=${OUT:-target/load}
mkdir -p "$out"
port=${PORT:-18094}
password=load-admin-password
dir=$(mktemp -d)
url=${DATABASE_URL:-sqlite://$dir/regrade.db}
backend=sqlite
if [[ $url == postgres* ]]; then
  backend=postgres
  db=${url##*/}
  psql "${url%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
fi
RUST_LOG=warn "${CONTESTD:-$target/release/contestd}" serve --database-url "$url" \
  --bind "127.0.0.1:$port" --admin-password "$password" --argon2-memory-kib 64 --argon2-iterations 1 \
  --login-per-minute 100000000 --quota-per-minute 100000000 --quota-burst 100000000 \
  >"$out/regrade-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done

echo "## $backend: $students submissions to $questions questions ($mix)"
"$target/release/contestd-load" --host "$base" --admin-password "$password" \
  --students "$students" --burst 256 --question-mix "$mix" --questions "$questions" \
  --setup-out "$dir/setup.json"

admin=$(curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -er .token)
contest=$(jq -e .contest_id "$dir/setup.json")
question=$(jq -e '[.contest.questions[] | select((.type // "single") == "single")][0]' "$dir/setup.json")
qid=$(jq -e .id <<<"$question")
key=$(jq -e .correct_option <<<"$question")
options=$(jq -e '.options | length' <<<"$question")
stats() {
  curl -sf "$base/api/contests/bulk-stats?contest_ids=$contest" -H "authorization: Bearer $admin" |
    jq -e ".stats[0].$1"
}
submitted=$(stats submitted)
echo "## $backend: PATCH /api/contests/$contest/questions/$qid, $submitted submissions, average score $(stats average_score)"
for run in $(seq "$runs"); do
  new=$(((key + run) % options))
  timing=$(curl -s -o "$dir/patch.json" -w '%{http_code} %{time_total}' -X PATCH \
    "$base/api/contests/$contest/questions/$qid" -H "authorization: Bearer $admin" \
    -H 'content-type: application/json' -d "{\"correct_option\": $new}")
  status=${timing% *}
  if [[ $status != 200 ]]; then
    echo "PATCH answered $status: $(cat "$dir/patch.json")" >&2
    exit 1
  fi
  regraded=$(jq -e .regraded "$dir/patch.json")
  jq -e --argjson new "$new" '.question.correct_option == $new' "$dir/patch.json" >/dev/null ||
    { echo "the answer does not show correct_option $new: $(cat "$dir/patch.json")" >&2; exit 1; }
  [[ $regraded == "$submitted" ]] ||
    { echo "regraded $regraded, but the contest has $submitted submissions" >&2; exit 1; }
  awk -v n="$regraded" -v s="${timing#* }" -v k="$new" -v a="$(stats average_score)" \
    'BEGIN {printf "regraded %d in %.1f ms (correct_option %d, average score now %s)\n", n, s * 1000, k, a}'
done
