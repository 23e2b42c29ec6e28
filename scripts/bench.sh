#!/usr/bin/env bash
# Measure `roster validate` against the bare libyaml event parse (SPEC §10).
#
#   scripts/bench.sh [SCALE]        SCALE defaults to 1.0 (100k users, 300k memberships, ~28 MB)
#   STORE=postgres scripts/bench.sh [SCALE]
#                                   the same against PostgreSQL: runs itself under
#                                   scripts/with-postgres (a throwaway server, fsync on), each
#                                   fresh store a new schema
#
# Then, unless SKIP_PLAN=1: the first plan (into a file, and into /dev/null: roster's own time
# without the kernel taking the 477 MB) and apply on a fresh SQLite store, a plan with no
# changes, the reading commands (access and who-can from the store and from the files), export
# and the plan of the exported files (no changes), the whole audit log as events, and plan and
# apply of a 1% change. On SQLite each apply is timed best of RUNS too: before each run the first
# apply gets a new store and the 1% apply the store as the first apply left it (a copy), each with
# the earlier run's outbox moved aside; on PostgreSQL the applies are single runs. With EVENTS=1
# also the catch-up of a new `from: start` events endpoint on a local receiver
# (examples/platform-receiver; needs python3 with standardwebhooks), in events per second.
#
# Steps: compile scripts/yaml-floor.c into .build-bench/yaml-floor; generate the directory
# into .build-bench/data-SCALE with scripts/gen-bench.py (kept between runs); build roster in
# release; time each command best-of-3 with /usr/bin/time; print seconds, the CPU seconds of
# that run (user + system, over all cores: plan uses two), peak RSS and the ratio to the floor.
# RUNS=N changes how many runs each repeatable figure takes (default 3).
# SKIP_ROSTER=1 measures the floor alone; ROSTER_BIN=PATH measures that binary instead of
# building one.
set -Eeuo pipefail

SCALE="${1:-1.0}"
STORE_KIND="${STORE:-sqlite}"
case "$STORE_KIND" in
    sqlite) ;;
    postgres)
        if [[ -z "${ROSTER_TEST_POSTGRES:-}" ]]; then
            ROSTER_PG_FSYNC=on exec "$(dirname "${BASH_SOURCE[0]}")/with-postgres" "${BASH_SOURCE[0]}" "$@"
        fi ;;
    *) echo "bench.sh: STORE is sqlite or postgres, not '$STORE_KIND'" >&2; exit 64 ;;
esac
if ! [[ "$SCALE" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "usage: scripts/bench.sh [SCALE]   (SCALE is a positive number, e.g. 0.01 or 1.0)" >&2
    exit 64
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=.build-bench
DATA="$OUT/data-$SCALE"
FLOOR="$OUT/yaml-floor"
RUNS="${RUNS:-3}"
STEP="start"

step() {
    STEP="$1"
    echo "==> $STEP" >&2
}
trap 'echo "bench.sh: FAILED at step: $STEP (line $LINENO)" >&2' ERR

mkdir -p "$OUT"

step "install /usr/bin/time (Debian package 'time') if missing"
if [[ ! -x /usr/bin/time ]]; then
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get install -y time >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y time >/dev/null; }
fi

step "compile scripts/yaml-floor.c -> $FLOOR (needs libyaml-dev)"
if [[ ! -x "$FLOOR" || scripts/yaml-floor.c -nt "$FLOOR" ]]; then
    cc -O2 -o "$FLOOR" scripts/yaml-floor.c -lyaml
fi

step "generate $DATA (scale $SCALE)"
if [[ -f "$DATA/roster.yaml" ]]; then
    echo "    $DATA exists, kept (delete it to regenerate)" >&2
else
    python3 scripts/gen-bench.py "$DATA" --scale "$SCALE"
fi

ROSTER="${ROSTER_BIN:-}"
if [[ -n "$ROSTER" ]]; then
    step "use ROSTER_BIN=$ROSTER (no build)"
    [[ -x "$ROSTER" ]] || { echo "bench.sh: ROSTER_BIN=$ROSTER is not an executable" >&2; false; }
elif [[ "${SKIP_ROSTER:-0}" != 1 ]]; then
    step "build roster in release (swift build -c release --product roster)"
    swift build -c release --product roster >&2
    ROSTER="$(swift build -c release --show-bin-path)/roster"
    [[ -x "$ROSTER" ]] || { echo "bench.sh: no executable at $ROSTER" >&2; false; }
fi

# measure NAME CMD... : runs CMD $RUNS times (exit 0 required); sets BEST_S, BEST_CPU (user +
# system seconds of the best run) and PEAK_KB. BEFORE_EACH=FUNCTION runs FUNCTION, untimed, before
# each run.
measure() {
    local name="$1" s user sys kb rc i
    shift
    BEST_S="" BEST_CPU="" PEAK_KB=0
    for ((i = 1; i <= RUNS; i++)); do
        [[ -z "${BEFORE_EACH:-}" ]] || "$BEFORE_EACH"
        set +e
        /usr/bin/time -f '%e s %M KB %U %S' -o "$OUT/time.txt" "$@" >"${MEASURE_OUT:-$OUT/run.out}" 2>"$OUT/run.err"
        rc=$?
        set -e
        if [[ $rc -ne 0 ]]; then
            echo "bench.sh: '$name' exited with status $rc (expected 0): $*" >&2
            head -n 20 "$OUT/run.out" "$OUT/run.err" >&2
            return 1
        fi
        read -r s _ kb _ user sys < <(tail -n 1 "$OUT/time.txt")
        if [[ -z "$BEST_S" ]] || awk -v a="$s" -v b="$BEST_S" 'BEGIN { exit !(a < b) }'; then
            BEST_S="$s"
            BEST_CPU="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
        fi
        if ((kb > PEAK_KB)); then PEAK_KB="$kb"; fi
        echo "    $name run $i: $s s, $user s user, $sys s system, $kb KB" >&2
    done
}

ROWS=()
step "measure yaml-floor on $DATA (best of $RUNS)"
measure "yaml-floor" "$FLOOR" "$DATA"
FLOOR_OUT="$(cat "$OUT/run.out")"
echo "    $FLOOR_OUT" >&2
FLOOR_S="$BEST_S"
ROWS+=("yaml-floor (libyaml events)|$BEST_S|$BEST_CPU|$PEAK_KB")

if [[ -n "$ROSTER" ]]; then
    step "measure roster validate on $DATA (best of $RUNS)"
    measure "roster validate" "$ROSTER" validate --config "$DATA/roster.yaml"
    ROWS+=("roster validate|$BEST_S|$BEST_CPU|$PEAK_KB")
fi

if [[ -n "$ROSTER" && "${SKIP_PLAN:-0}" != 1 ]]; then
    # The reconciler on a fresh SQLite store: first plan and apply of the whole directory, a
    # plan with no changes, then plan and apply of a change to 1% of the memberships.
    STORE="$PWD/$OUT/store-$SCALE.db"
    MUTATED="$OUT/data-$SCALE-m1"
    # An earlier run's outbox (100,000 files) is moved aside and removed at the end: on ext4,
    # creating files right after removing as many costs the kernel several times more.
    TRASH="$OUT/trash.$$"
    mkdir -p "$TRASH"
    trap 'rm -rf "$TRASH"' EXIT
    # aside FOLDER: moves an earlier run's outbox (FOLDER/.roster) into the trash.
    aside() {
        [[ ! -e "$1/.roster" ]] || mv "$1/.roster" "$(mktemp -d "$TRASH/outbox.XXXXXX")"
    }
    # new_store: no SQLite store, and no outbox of the whole directory's apply; what the run before
    # wrote (100,000 files, a 477 MB store) written out first, so that a run does not wait for it.
    new_store() {
        rm -rf "$STORE" "$STORE"-* "$STORE.lock"
        aside "$DATA"
        sync
    }
    new_store
    aside "$MUTATED"
    step "generate $MUTATED (1% of memberships changed)"
    [[ -f "$MUTATED/roster.yaml" ]] || python3 scripts/gen-bench.py "$MUTATED" --scale "$SCALE" --mutate-percent 1
    if [[ "$STORE_KIND" == postgres ]]; then
        state=(--state "$ROSTER_TEST_POSTGRES?schema=bench_$$")
    else
        state=(--state "sqlite:$STORE")
    fi
    step "measure the first plan (empty store)"
    measure "roster plan (first)" "$ROSTER" plan --config "$DATA/roster.yaml" "${state[@]}" --format json
    ROWS+=("plan, empty store|$BEST_S|$BEST_CPU|$PEAK_KB")
    # The same into /dev/null: roster's own time, without the kernel taking 477 MB into a file.
    MEASURE_OUT=/dev/null measure "roster plan (first, to /dev/null)" "$ROSTER" plan --config "$DATA/roster.yaml" \
        "${state[@]}" --format json
    ROWS+=("plan, empty store, to /dev/null|$BEST_S|$BEST_CPU|$PEAK_KB")
    # An apply that can start again from the same store is timed best of RUNS (SQLite).
    APPLY_RUNS="$RUNS"
    [[ "$STORE_KIND" == sqlite ]] || APPLY_RUNS=1
    step "measure the first apply (whole directory, with invitation delivery, best of $APPLY_RUNS)"
    RUNS="$APPLY_RUNS" BEFORE_EACH=new_store measure "roster apply (first)" "$ROSTER" apply --auto-approve \
        --config "$DATA/roster.yaml" "${state[@]}"
    # The last run started from a new store too.
    grep -q "the store is at serial 1\." "$OUT/run.out" || { echo "bench.sh: the first apply did not start anew" >&2; false; }
    ROWS+=("apply, whole directory|$BEST_S|$BEST_CPU|$PEAK_KB")
    step "measure a plan with no changes"
    measure "roster plan (no changes)" "$ROSTER" plan --config "$DATA/roster.yaml" "${state[@]}"
    grep -q "No changes" "$OUT/run.out" || { echo "bench.sh: expected no changes" >&2; false; }
    ROWS+=("plan, no changes|$BEST_S|$BEST_CPU|$PEAK_KB")
    # Someone with memberships, and a busy account, from the generated files.
    WHO="$(grep -h -m1 -o 'user: [^ ]*' "$DATA"/directory/customers/c00001.yaml | head -n 1 | cut -d' ' -f2)"
    ACCOUNT="$(grep -h -A2 -m1 '^kind: Account' "$DATA"/directory/customers/c00001.yaml | grep -o 'id: .*' | cut -d' ' -f2)"
    step "measure access $WHO and who-can streams:read on $ACCOUNT, from the store and from the files"
    measure "roster access (store)" "$ROSTER" access "$WHO" --config "$DATA/roster.yaml" "${state[@]}"
    ROWS+=("access EMAIL, store|$BEST_S|$BEST_CPU|$PEAK_KB")
    measure "roster who-can (store)" "$ROSTER" who-can streams:read --account "$ACCOUNT" --config "$DATA/roster.yaml" "${state[@]}"
    ROWS+=("who-can, store|$BEST_S|$BEST_CPU|$PEAK_KB")
    measure "roster access (files)" "$ROSTER" access "$WHO" --files --config "$DATA/roster.yaml"
    ROWS+=("access EMAIL, --files|$BEST_S|$BEST_CPU|$PEAK_KB")
    measure "roster who-can (files)" "$ROSTER" who-can streams:read --account "$ACCOUNT" --files --config "$DATA/roster.yaml"
    ROWS+=("who-can, --files|$BEST_S|$BEST_CPU|$PEAK_KB")
    EXPORT="$PWD/$OUT/export-$SCALE"
    step "measure export to $EXPORT and the plan of the exported files"
    measure "roster export" "$ROSTER" export --out "$EXPORT/directory" --force --config "$DATA/roster.yaml" "${state[@]}"
    ROWS+=("export|$BEST_S|$BEST_CPU|$PEAK_KB")
    sed 's/^sources:.*/sources: [directory]/' "$DATA/roster.yaml" >"$EXPORT/roster.yaml"
    measure "roster plan (exported files)" "$ROSTER" plan --config "$EXPORT/roster.yaml" "${state[@]}"
    grep -q "No changes" "$OUT/run.out" || { echo "bench.sh: the export does not plan empty" >&2; tail "$OUT/run.out" >&2; false; }
    ROWS+=("plan of the export|$BEST_S|$BEST_CPU|$PEAK_KB")
    step "measure the whole audit log as events (--format json)"
    measure "roster events" "$ROSTER" events --format json --config "$DATA/roster.yaml" "${state[@]}"
    echo "    $(wc -l <"$OUT/run.out") events, $(wc -c <"$OUT/run.out") bytes" >&2
    ROWS+=("events, whole log (json)|$BEST_S|$BEST_CPU|$PEAK_KB")
    if [[ "${EVENTS:-0}" == 1 ]]; then
        step "measure catching up a new from: start endpoint on a local receiver"
        FEED="$PWD/$OUT/feed-$SCALE"
        rm -rf "$FEED" && mkdir -p "$FEED"
        SECRET="whsec_$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
        ROSTER_EVENTS_SECRET="$SECRET" python3 examples/platform-receiver/receiver.py serve --port 0 --db "$FEED/platform.db" \
            >"$FEED/receiver.out" 2>&1 &
        RECEIVER=$!
        for _ in $(seq 50); do grep -q listening "$FEED/receiver.out" && break; sleep 0.2; done
        PORT="$(grep -o '[0-9]*$' "$FEED/receiver.out" | head -n 1)"
        { cat "$DATA/roster.yaml"; printf 'events:\n  - name: bench\n    url: http://127.0.0.1:%s/roster\n    secretEnv: ROSTER_EVENTS_SECRET\n    from: start\n' "$PORT"; } >"$FEED/roster.yaml"
        cp -r "$DATA/directory" "$FEED/directory"
        RUNS=1 measure "roster deliver (events catch-up)" env ROSTER_EVENTS_SECRET="$SECRET" "$ROSTER" deliver --config "$FEED/roster.yaml" "${state[@]}"
        kill "$RECEIVER" 2>/dev/null || true
        EVENTS_SENT="$(grep -o 'Sent [0-9]* events' "$OUT/run.out" | grep -o '[0-9]*')"
        echo "    $EVENTS_SENT events in $BEST_S s: $(awk -v n="$EVENTS_SENT" -v s="$BEST_S" 'BEGIN { printf "%.0f", n / s }') events/s" >&2
        ROWS+=("deliver, events catch-up|$BEST_S|$BEST_CPU|$PEAK_KB")
    fi
    step "measure plan and apply of a 1% change"
    measure "roster plan (1%)" "$ROSTER" plan --config "$MUTATED/roster.yaml" "${state[@]}"
    tail -n 1 "$OUT/run.out" >&2
    ROWS+=("plan, 1% changed|$BEST_S|$BEST_CPU|$PEAK_KB")
    KEPT="$OUT/store-$SCALE.before-1pc"
    # back_to_first_apply: the store as the first apply left it (SQLite's file, with its WAL if any),
    # written out before the run: otherwise the apply's commit waits for the kernel to write back
    # the copy's 477 MB (its transaction 0.76-0.98 s instead of 0.34-0.42 s on 2026-12-04).
    back_to_first_apply() {
        rm -f "$STORE" "$STORE-wal" "$STORE-shm"
        cp "$KEPT"/* "$(dirname "$STORE")/"
        sync
        aside "$MUTATED"
    }
    RESTORE=""
    if [[ "$STORE_KIND" == sqlite ]]; then
        rm -rf "$KEPT" && mkdir -p "$KEPT"
        cp "$STORE" "$KEPT/" && { [[ ! -e "$STORE-wal" ]] || cp "$STORE-wal" "$KEPT/"; }
        trap 'rm -rf "$TRASH" "$KEPT"' EXIT
        RESTORE=back_to_first_apply
    fi
    RUNS="$APPLY_RUNS" BEFORE_EACH="$RESTORE" \
        measure "roster apply (1%)" "$ROSTER" apply --auto-approve --allow mass-removal --config "$MUTATED/roster.yaml" "${state[@]}"
    grep -q "the store is at serial 2\." "$OUT/run.out" || { echo "bench.sh: the 1% apply did not start from the first" >&2; false; }
    ROWS+=("apply, 1% changed|$BEST_S|$BEST_CPU|$PEAK_KB")
fi

step "report"
echo
echo "scale $SCALE, $DATA, $STORE_KIND: $FLOOR_OUT; best of $RUNS runs"
printf '%-30s %9s %9s %13s %9s\n' "command" "seconds" "cpu s" "peak RSS MB" "x floor"
for row in "${ROWS[@]}"; do
    IFS='|' read -r name s cpu kb <<<"$row"
    awk -v n="$name" -v s="$s" -v c="$cpu" -v kb="$kb" -v f="$FLOOR_S" 'BEGIN {
        printf "%-30s %9.2f %9.2f %13.1f %9s\n", n, s, c, kb / 1024, (f > 0 ? sprintf("%.2f", s / f) : "n/a")
    }'
done
