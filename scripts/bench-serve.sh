#!/usr/bin/env bash
# Load-test `roster serve` (SPEC §12: 20,000 evaluations/s on 2 cores, p99 < 5 ms, < 700 MiB,
# no error answers) with wrk against the generated directory.
#
#   scripts/bench-serve.sh [SCALE] [SECONDS]   SCALE defaults to 1.0 (100k users), SECONDS to 20
#
# Steps: generate the directory with scripts/gen-bench.py (kept between runs, as bench.sh
# does); build roster in release; apply it once to a SQLite store in .build-bench; write
# 20,000 evaluation bodies drawn from the store (members' own scopes and permissions, so
# about half permit, and random others that deny); start `roster serve` on a free loopback
# port; run wrk (1 thread, 16 connections: wrk needs a core of its own on a 2-core machine;
# WRK_THREADS and WRK_CONNECTIONS change that) and print its latency distribution, the
# server's peak RSS, its CPU time per request, the share of CPU time the hypervisor took
# (steal) and how many answers were not 200. ROSTER_BIN runs a given build instead;
# PERF_OUT=FILE records a call-graph profile of the server during the run (`perf report -i FILE`).
set -Eeuo pipefail
SCALE="${1:-1.0}"
SECONDS_RUN="${2:-20}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
OUT=.build-bench
DATA="$OUT/data-$SCALE"
STORE="$OUT/serve-$SCALE.db"
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "bench-serve.sh: needs wrk (Debian package 'wrk')" >&2; exit 1; }

[[ -f "$DATA/roster.yaml" ]] || python3 scripts/gen-bench.py "$DATA" --scale "$SCALE"
ROSTER="${ROSTER_BIN:-}"
if [[ -z "$ROSTER" ]]; then
    swift build -c release --product roster >&2
    ROSTER="$(swift build -c release --show-bin-path)/roster"
fi
[[ "$ROSTER" = /* ]] || ROSTER="$ROOT/$ROSTER"
if [[ ! -f "$STORE" ]]; then
    echo "==> apply the directory to $STORE" >&2
    (cd "$DATA" && "$ROSTER" apply --auto-approve --state "sqlite:$ROOT/$STORE" --actor bench >/dev/null)
fi

BODIES="$OUT/serve-bodies-$SCALE.jsonl"
python3 - "$STORE" "$BODIES" <<'PY'
import json, random, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
random.seed(7)
members = db.execute("""SELECT u.email, m.scope_kind, m.scope_id FROM memberships m JOIN users u ON u.id = m.user_id
                        WHERE m.ended_at IS NULL ORDER BY random() LIMIT 10000""").fetchall()
accounts = [row[0] for row in db.execute("SELECT id FROM accounts ORDER BY random() LIMIT 1000")]
perms = ["streams:read", "streams:delete", "billing:update", "analytics:read", "users:invite", "players:update"]
with open(sys.argv[2], "w") as out:
    for email, kind, scope in members:
        for resource in ((kind, scope), ("account", random.choice(accounts))):
            body = {"subject": {"type": "user", "id": email}, "action": {"name": random.choice(perms)},
                    "resource": {"type": resource[0], "id": resource[1]}}
            out.write(json.dumps(body) + "\n")
PY

export ROSTER_SERVE_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LOG="$OUT/serve-$SCALE.log"
(cd "$DATA" && ROSTER_SERVE_TOKENS="$ROSTER_SERVE_TOKEN" exec "$ROSTER" serve --listen 127.0.0.1:0 \
    --state "sqlite:$ROOT/$STORE") 2>"$LOG" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 1 600); do
    PORT="$(sed -n 's/^roster serve: listening on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$LOG")"
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$PORT" ]] || { echo "bench-serve.sh: the server did not start" >&2; cat "$LOG" >&2; exit 1; }
echo "==> roster serve on port $PORT, $(grep -c . "$BODIES") bodies; RSS after load: $(ps -o rss= -p $SERVER) KiB" >&2
PERF=""
if [[ -n "${PERF_OUT:-}" ]]; then
    perf record -g -F 999 -p "$SERVER" -o "$PERF_OUT" -- sleep "$SECONDS_RUN" 2>/dev/null &
    PERF=$!
fi
# The machine's CPU time by kind (/proc/stat: user nice system idle iowait irq softirq steal)
# and the server's own (utime + stime, in clock ticks), before and after the run.
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
read -r TOTAL0 STEAL0 < <(machine_ticks)
SERVER0="$(server_ticks)"
BODIES="$BODIES" wrk -t"${WRK_THREADS:-1}" -c"${WRK_CONNECTIONS:-16}" -d"${SECONDS_RUN}s" --latency \
    -s scripts/bench-serve.lua "http://127.0.0.1:$PORT" | tee "$OUT/serve-wrk.txt"
read -r TOTAL1 STEAL1 < <(machine_ticks)
SERVER1="$(server_ticks)"
REQUESTS="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$OUT/serve-wrk.txt")"
# Steal is time the hypervisor gave this VM's cores to others: the same binary serves fewer
# requests a second when it is high, which is why the figure is printed beside the rate.
echo "server CPU per request: $(( (SERVER1 - SERVER0) * 1000000 / $(getconf CLK_TCK) / ${REQUESTS:-1} )) us;" \
    "CPU stolen by the hypervisor: $(( (STEAL1 - STEAL0) * 100 / (TOTAL1 - TOTAL0 + 1) ))% of the run"
[[ -z "$PERF" ]] || wait "$PERF" || true
echo "peak RSS of roster serve: $(grep VmHWM /proc/$SERVER/status | awk '{print $2}') KiB"
echo "answers by status: $(grep -o 'status=[0-9]*' "$LOG" | sort | uniq -c | tr '\n' ' ')"
kill -TERM $SERVER
wait $SERVER && echo "roster serve exited 0 after SIGTERM"
