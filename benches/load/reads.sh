#!/usr/bin/env bash
# Warm reads set against the HTTP ceiling, with wrk (Debian package `wrk`): GET /health (the
# ceiling), then one student's contest view, own submission and contest list, each for SECS (15)
# seconds over 64 connections, on a fresh server on SQLite (default) or PostgreSQL
# (DATABASE_URL=postgres://…/db, emptied first). One student makes every request, so the
# per-user quota is lifted. CONTESTD=path/to/contestd runs another build (to compare builds).
#   benches/load/reads.sh
# SHUFFLE=1: the contest view on a shuffled contest against an unshuffled one instead. The
# script creates two open contests of QUESTIONS (50) single-choice questions in the demo course,
# identical but for `"shuffle": {"questions": true, "options": true}` on the second (needs jq):
#   SHUFFLE=1 QUESTIONS=50 benches/load/reads.sh
# Each figure is followed by its share of the /health figure of the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p contestd >&2
bin=${CONTESTD:-${CARGO_TARGET_DIR:-target}/release/contestd}
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
login() {
  curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
token=$(login student0001 student-pass)
curl -sf "$base/api/contests/1/submissions" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"answers":[]}' >/dev/null
paths=(/health /api/contests/1 /api/contests/1/my-submission /api/contests)
declare -A rate label

if [[ -n ${SHUFFLE:-} ]]; then
  questions=${QUESTIONS:-50}
  admin=$(login admin "$password")
  course=$(curl -sf "$base/api/courses" -H "authorization: Bearer $admin" | jq -e '.courses[0].id')
  # An open contest of $questions questions in the demo course (the demo student is enrolled);
  # $1 is extra JSON for the body (the shuffle).
  contest() {
    local body
    body=$(jq -n --argjson course "$course" --argjson n "$questions" \
      --arg start "$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)" \
      --arg finish "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)" --argjson extra "$1" '
      {course_id: $course, title: "reads \($n)", start_time: $start, end_time: $finish,
       questions: [range($n) | {prompt: "Question \(. + 1): which of these is right?",
                                options: ["first option", "second option", "third option", "fourth option"],
                                correct_option: (. % 4)}]} + $extra') || exit 1
    local answer status
    answer=$(curl -s -w '\n%{http_code}' "$base/api/contests" -H "authorization: Bearer $admin" \
      -H 'content-type: application/json' -d "$body")
    status=${answer##*$'\n'}
    if [[ $status != 201 ]]; then
      echo "creating the contest ($1) answered $status: ${answer%$'\n'*}" >&2
      exit 1
    fi
    jq -e .id <<<"${answer%$'\n'*}"
  }
  plain=$(contest '{}')
  shuffled=$(contest '{"shuffle": {"questions": true, "options": true}}')
  echo "contests of $questions questions: $plain unshuffled, $shuffled shuffled"
  # The student's view of the shuffled one lists the same questions in another order.
  view() { curl -sf "$base/api/contests/$1" -H "authorization: Bearer $token"; }
  view "$plain" | jq -e --argjson n "$questions" \
    '(.questions | length == $n) and all(.questions[]; has("option_order") | not)' >/dev/null
  view "$shuffled" | jq -e --argjson n "$questions" \
    '(.questions | length == $n) and all(.questions[]; .option_order | length == 4)' >/dev/null ||
    { echo "the shuffled view has no option_order on every question" >&2; exit 1; }
  paths=(/health "/api/contests/$plain" "/api/contests/$shuffled")
  label["/api/contests/$plain"]=" ($questions questions, unshuffled)"
  label["/api/contests/$shuffled"]=" ($questions questions, shuffled)"
fi

for path in "${paths[@]}"; do
  echo "## GET $path${label[$path]:-}"
  wrk -t1 -c64 -d"${SECS:-15}s" --latency -H "authorization: Bearer $token" "$base$path" \
    >"$dir/wrk.out"
  grep -E "Requests/sec|  (50|99)%|Non-2xx|Socket errors" "$dir/wrk.out"
  rate[$path]=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out")
done
echo "## against GET /health (${rate[/health]}/s)"
for path in "${paths[@]:1}"; do
  awk -v p="$path${label[$path]:-}" -v r="${rate[$path]}" -v h="${rate[/health]}" \
    'BEGIN {printf "GET %s: %.0f/s, %.0f%% of /health\n", p, r, 100 * r / h}'
done
