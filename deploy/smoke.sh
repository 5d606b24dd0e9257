#!/usr/bin/env bash
# Smoke test of several nodes behind HAProxy: two contestd nodes on one fresh PostgreSQL
# database, deploy/haproxy.cfg in front of them on loopback ports, and the load generator's
# classroom day (benches/load) through the proxy while one node is killed (kill -9) and
# restarted, then both are restarted one after the other (SIGTERM, drain, start, ready).
# Afterwards every acknowledged submission must be in the database exactly once and every
# student of the contest must have exactly one submission; any failure exits non-zero.
#
#   deploy/smoke.sh                       (from the repository root; CI runs it)
#
# Environment:
#   SMOKE_POSTGRES_URL  a database URL whose server gets a fresh database for the run, dropped
#                       at exit (default postgres://postgres@127.0.0.1:5432/postgres)
#   CARGO_TARGET_DIR    where the binaries are built (default target)
#   SMOKE_PROFILE       release (default) or dev: CI uses dev, whose build the tests made
#                       already (correctness, not speed, is checked here)
#   SMOKE_NO_BUILD=1    use the binaries already there
#   SMOKE_STUDENTS      students in the day (default 300)
#   SMOKE_THINK_MS      longest think time (default 40000: the day lasts about a minute, long
#                       enough for the kill and the rolling restart to happen under load)
#   SMOKE_KEEP=1        keep the work directory (logs, reports) and the database
# For measurements (benches/README.md), with the same checks:
#   SMOKE_PRESET        the load generator's preset (default classroom); with another preset,
#                       SMOKE_STUDENTS and SMOKE_THINK_MS default to the preset's own
#   SMOKE_NODES         1 or 2 nodes behind the proxy (default 2; with 1, node2 stays down)
#   SMOKE_EVENTS        what happens under load, in order: kill (kill -9 the node serving the
#                       contest, start it again), rolling (restart node1, then node2); default
#                       "kill rolling", "" for none
#   SMOKE_KILL_AFTER    seconds into the day before the first event (default 8)
#   SMOKE_PROXY_MAXCONN HAProxy's maxconn (default 4000; the stadium needs 30000, and a hard
#                       open-files limit of at least 61000: `ulimit -n 100000` as root first)
set -euo pipefail
cd "$(dirname "$0")/.."

base_url=${SMOKE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
target=${CARGO_TARGET_DIR:-target}
preset=${SMOKE_PRESET:-classroom}
if [ "$preset" = classroom ]; then
  students=${SMOKE_STUDENTS:-300}
  think_ms=${SMOKE_THINK_MS:-40000}
else
  students=${SMOKE_STUDENTS:-}
  think_ms=${SMOKE_THINK_MS:-}
fi
nodes=${SMOKE_NODES:-2}
events=${SMOKE_EVENTS-kill rolling}
password=smoke-admin-password
db="contestd_smoke_$$"
db_url="${base_url%/*}/$db"
work=$(mktemp -d "${TMPDIR:-/tmp}/contestd-smoke.XXXXXX")
started=$(date +%s)

log() { printf '[smoke %3ds] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() { log "FAILED: $*" >&2; exit 1; }

declare -A node_pid node_port
haproxy_pid='' load_pid=''
cleanup() {
  local status=$?
  set +e
  exec >&2 # even when the failure came from inside a redirected command
  # Every process this run started: asked to stop, then killed after 5 s.
  local pids=() pid
  for pid in "$load_pid" "$haproxy_pid" "${node_pid[1]:-}" "${node_pid[2]:-}"; do
    [ -n "$pid" ] && pids+=("$pid")
  done
  disown -a 2>/dev/null
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
  local alive=1
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 1 ] || break
    sleep 0.1
  done
  [ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null
  if [ -n "${SMOKE_KEEP:-}" ]; then
    echo "database kept: $db_url"
  else
    psql -q "$base_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  fi
  if [ "$status" -ne 0 ]; then
    for f in "$work"/node1.log "$work"/node2.log "$work"/haproxy.log "$work"/load.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $f"
      tail -n 25 "$f"
    done
  fi
  if [ -n "${SMOKE_KEEP:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT

profile=${SMOKE_PROFILE:-release}
case $profile in
  release) flags=(--release) dir=release ;;
  dev) flags=() dir=debug ;;
  *) fail "SMOKE_PROFILE is release or dev, not $profile" ;;
esac
if [ -z "${SMOKE_NO_BUILD:-}" ]; then
  log "building contestd and contestd-load ($profile)"
  cargo build "${flags[@]}" --bin contestd
  cargo build "${flags[@]}" -p contestd-load
fi
contestd="$target/$dir/contestd"
load="$target/$dir/contestd-load"
[ -x "$contestd" ] && [ -x "$load" ] || fail "no $profile binaries in $target/$dir"
command -v haproxy >/dev/null || fail "haproxy is not installed"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
node_port[1]=$(free_port)
node_port[2]=$(free_port)
proxy_port=$(free_port)
stats_port=$(free_port)

PGOPTIONS='-c client_min_messages=warning' psql -q -v ON_ERROR_STOP=1 "$base_url" \
  -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
# Applies the migrations once, before two nodes start at the same time.
"$contestd" migrate --database-url "$db_url" >"$work/migrate.log" 2>&1 || fail "migrations (see $work/migrate.log)"

drain=()
if "$contestd" serve --help | grep -q -- '--drain-secs'; then
  drain=(--drain-secs 2)
else
  log "this contestd has no --drain-secs: restarts without draining"
fi

start_node() {
  local n=$1
  RUST_LOG=warn "$contestd" serve --database-url "$db_url" --bind "127.0.0.1:${node_port[$n]}" \
    --admin-password "$password" --login-per-minute 1000000 \
    --client-address-header X-Forwarded-For "${drain[@]}" >>"$work/node$n.log" 2>&1 &
  node_pid[$n]=$!
}

# Waits (at most $2 s) until node $1 answers 200 on /health/ready.
wait_ready() {
  local n=$1 deadline=$((SECONDS + $2))
  until curl -sf -o /dev/null "http://127.0.0.1:${node_port[$n]}/health/ready"; do
    kill -0 "${node_pid[$n]}" 2>/dev/null || fail "node$n exited while starting"
    [ "$SECONDS" -lt "$deadline" ] || fail "node$n not ready after $2 s"
    sleep 0.1
  done
}

# A server's line of the proxy's stats ("backend,server"): its status (UP, DOWN, …), or its
# total sessions with $2 = stot.
proxy_stat() {
  curl -sf "http://127.0.0.1:$stats_port/stats;csv" | awk -F, -v px="${1%,*}" -v sv="${1#*,}" -v col="${2:-status}" '
    NR == 1 { for (i = 1; i <= NF; i++) { name = $i; sub(/^# /, "", name); idx[name] = i } }
    $1 == px && $2 == sv { print $idx[col] }'
}

# Waits (at most $3 s) until the proxy shows node $1 as $2 (UP or DOWN); prints the seconds it
# took, to a tenth.
wait_proxy() {
  local n=$1 want=$2 t0 deadline=$((SECONDS + $3))
  t0=$(date +%s.%N)
  until [[ "$(proxy_stat "nodes,node$n")" == "$want"* ]]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the proxy does not show node$n $want after $3 s"
    sleep 0.1
  done
  awk -v t1="$(date +%s.%N)" -v t0="$t0" 'BEGIN { printf "%.1f", t1 - t0 }'
}

log "nodes on ports ${node_port[1]} and ${node_port[2]}, database $db"
start_node 1
wait_ready 1 60
if [ "$nodes" -ge 2 ]; then
  start_node 2
  wait_ready 2 60
fi

log "haproxy on port $proxy_port (stats $stats_port)"
# 4,000 client connections are plenty for the classroom, and need no more file descriptors
# than a default hard limit gives.
CONTESTD_PROXY_BIND="127.0.0.1:$proxy_port" CONTESTD_PROXY_STATS="127.0.0.1:$stats_port" \
  CONTESTD_PROXY_MAXCONN="${SMOKE_PROXY_MAXCONN:-4000}" \
  CONTESTD_NODE1="127.0.0.1:${node_port[1]}" CONTESTD_NODE2="127.0.0.1:${node_port[2]}" \
  haproxy -db -f deploy/haproxy.cfg >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
sleep 0.5
kill -0 "$haproxy_pid" 2>/dev/null || fail "haproxy did not start"
wait_proxy 1 UP 20 >/dev/null
if [ "$nodes" -ge 2 ]; then
  wait_proxy 2 UP 20 >/dev/null
else
  wait_proxy 2 DOWN 20 >/dev/null
fi
curl -sf -o /dev/null "http://127.0.0.1:$proxy_port/health" || fail "no answer through the proxy"

sizes=()
[ -n "$students" ] && sizes+=(--students "$students")
[ -n "$think_ms" ] && sizes+=(--think-max-ms "$think_ms")
log "$preset day through the proxy (${nodes} node(s)): ${sizes[*]:-sizes of the preset}"
"$load" --host "http://127.0.0.1:$proxy_port" --admin-password "$password" --preset "$preset" \
  "${sizes[@]}" --grace-secs 3 \
  --json "$work/load.json" --setup-out "$work/setup.json" --acknowledged-out "$work/acked.txt" \
  -- --quiet >"$work/load.log" 2>&1 &
load_pid=$!
for _ in $(seq 600); do
  [ -s "$work/setup.json" ] && break
  kill -0 "$load_pid" 2>/dev/null || fail "the load generator stopped during its setup"
  sleep 0.1
done
[ -s "$work/setup.json" ] || fail "no contest after 60 s"
contest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["contest_id"])' "$work/setup.json")

# kill -9 the node serving the contest (its hashed backend's traffic), then start it again.
kill_event() {
  local s1 s2 victim t0
  s1=$(proxy_stat contest,node1 stot)
  s2=$(proxy_stat contest,node2 stot)
  if [ "${s1:-0}" -ge "${s2:-0}" ]; then victim=1; else victim=2; fi
  log "contest $contest is served by node$victim (sessions $s1/$s2): kill -9"
  kill -9 "${node_pid[$victim]}"
  wait "${node_pid[$victim]}" 2>/dev/null || true
  log "node$victim marked down by the proxy after $(wait_proxy "$victim" DOWN 20) s"
  sleep 3
  start_node "$victim"
  t0=$SECONDS
  wait_ready "$victim" 60
  log "node$victim restarted, ready after $((SECONDS - t0)) s; in the proxy after $(wait_proxy "$victim" UP 30) s more"
  sleep 3
}

# SIGTERM each node in turn, wait for it to exit, start it again and wait until the proxy
# sends it traffic before the next.
rolling_event() {
  local n t0 code
  for n in $(seq "$nodes"); do
    kill -0 "$load_pid" 2>/dev/null || { log "the day ended before the restart of node$n"; return; }
    log "rolling restart: SIGTERM node$n"
    kill -TERM "${node_pid[$n]}"
    t0=$SECONDS
    if [ ${#drain[@]} -gt 0 ]; then
      log "node$n out of the proxy after $(wait_proxy "$n" DOWN 20) s (draining)"
    fi
    for _ in $(seq 600); do kill -0 "${node_pid[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${node_pid[$n]}" 2>/dev/null && fail "node$n still running 60 s after SIGTERM"
    wait "${node_pid[$n]}" && code=0 || code=$?
    [ "$code" -eq 0 ] || fail "node$n exited with $code after SIGTERM"
    log "node$n exited 0 after $((SECONDS - t0)) s"
    start_node "$n"
    wait_ready "$n" 60
    log "node$n ready; in the proxy after $(wait_proxy "$n" UP 30) s more"
  done
}

# Into the day: the students have logged in and opened the contest and their timers.
sleep "${SMOKE_KILL_AFTER:-8}"
for event in $events; do
  kill -0 "$load_pid" 2>/dev/null || { log "the day ended before: $event"; break; }
  case $event in
    kill) kill_event ;;
    rolling) rolling_event ;;
    *) fail "unknown event in SMOKE_EVENTS: $event" ;;
  esac
done

log "waiting for the day to end (the deadline, then the final check)"
wait "$load_pid" && load_status=0 || load_status=$?
load_pid=''

failures=0
check() { # description, then the query that must print nothing
  local out
  out=$(psql -X -At -v ON_ERROR_STOP=1 "$db_url" -c "$2") || fail "psql: $1"
  if [ -n "$out" ]; then
    log "check failed: $1"
    printf '%s\n' "$out" | head -n 10
    failures=$((failures + 1))
  else
    log "check passed: $1"
  fi
}
check "every student has exactly one submission" "
  SELECT student_id, count(*) FROM submissions WHERE contest_id = $contest
  GROUP BY 1 HAVING count(*) <> 1"
check "as many submissions as students in the contest" "
  SELECT students, submitted FROM
    (SELECT count(*) AS students FROM enrollments e JOIN contests c ON c.course_id = e.course_id
       WHERE c.id = $contest AND e.is_active) a,
    (SELECT count(*) AS submitted FROM submissions WHERE contest_id = $contest) b
  WHERE students <> submitted OR students <> ${students:-students}"
# Every acknowledged submission is stored exactly once, by hand.
acked=$(wc -l <"$work/acked.txt")
check "every acknowledged submission ($acked) stored once, not auto" "$(
  printf "SELECT a.u, count(s.id), bool_or(s.auto) FROM unnest(ARRAY['%s']) AS a(u)
    LEFT JOIN users us ON us.username = a.u
    LEFT JOIN submissions s ON s.student_id = us.id AND s.contest_id = $contest
    GROUP BY a.u HAVING count(s.id) <> 1 OR bool_or(s.auto)" "$(paste -sd, "$work/acked.txt" | sed "s/,/','/g")"
)"
[ "$acked" -gt 0 ] || { log "check failed: nothing was acknowledged"; failures=$((failures + 1)); }

# The load generator's report: requests, answers by status, retries, its own check.
python3 - "$work/load.json" <<'EOF' || failures=$((failures + 1))
import json, sys
r = json.load(open(sys.argv[1]))
total, statuses = 0, {}
for op in r["operations"]:
    total += op["count"]
    for s, n in op["statuses"].items():
        statuses[s] = statuses.get(s, 0) + n
print(f"requests: {total}; by status: " + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items())))
for op in r["operations"]:
    bad = {s: n for s, n in op["statuses"].items() if not s.startswith("2") and s != "409"}
    if bad:
        print(f"  {op['name']}: " + ", ".join(f"{'no answer' if s == '0' else s}×{n}" for s, n in bad.items()))
t = r.get("timer") or {}
x = r.get("retries") or {}
print(f"timer: {t.get('frames')} frames, {t.get('failed_sockets')} failed sockets, "
      f"{x.get('timer_reconnects')} reopened (longest gap {x.get('longest_timer_gap_ms', 0) / 1000:.1f} s)")
retried = ", ".join(f"{'no answer' if s == '0' else s}×{n}" for s, n in (x.get("retried") or {}).items())
print(f"retries: {sum((x.get('retried') or {}).values())} attempts retried ({retried or 'none'}); "
      f"{x.get('recovered')} requests answered after retrying, the longest "
      f"{x.get('longest_recovery_ms', 0) / 1000:.1f} s after its first attempt; {x.get('gave_up')} given up; "
      f"{x.get('confirmed_409')} submissions confirmed after a 409")
c = r.get("check") or {}
print(f"load check: {c.get('acknowledged')} acknowledged, {c.get('stored')} stored "
      f"({c.get('stored_auto')} auto), {c.get('missing')} missing, {c.get('duplicated')} duplicated, "
      f"{c.get('unexpected')} unexpected, {c.get('unacknowledged')} stored after a request without answer")
ok = x.get("gave_up", 1) == 0 and t.get("failed_sockets", 1) == 0
if not ok:
    print("FAILED: a student gave up on a request or a timer")
sys.exit(0 if ok else 1)
EOF
[ "$load_status" -eq 0 ] || { log "the load generator failed (exit $load_status; its check, see above)"; failures=$((failures + 1)); }
grep -E '^check:' "$work/load.log" | head -n 6 || true

[ "$failures" -eq 0 ] || fail "$failures check(s)"
log "passed"
