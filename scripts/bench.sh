#!/usr/bin/env bash
# Measure `roster validate` against the bare libyaml event parse (SPEC §10).
#
#   scripts/bench.sh [SCALE]        SCALE defaults to 1.0 (100k users, 300k memberships, ~28 MB)
#
# Steps: compile scripts/yaml-floor.c into .build-bench/yaml-floor; generate the directory
# into .build-bench/data-SCALE with scripts/gen-bench.py (kept between runs); build roster in
# release; time each command best-of-3 with /usr/bin/time; print seconds, peak RSS and the
# ratio to the floor. SKIP_ROSTER=1 measures the floor alone; ROSTER_BIN=PATH measures that
# binary instead of building one.
set -Eeuo pipefail

SCALE="${1:-1.0}"
if ! [[ "$SCALE" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "usage: scripts/bench.sh [SCALE]   (SCALE is a positive number, e.g. 0.01 or 1.0)" >&2
    exit 64
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=.build-bench
DATA="$OUT/data-$SCALE"
FLOOR="$OUT/yaml-floor"
RUNS=3
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

# measure NAME CMD... : runs CMD $RUNS times (exit 0 required); sets BEST_S and PEAK_KB.
measure() {
    local name="$1" s kb rc i
    shift
    BEST_S="" PEAK_KB=0
    for ((i = 1; i <= RUNS; i++)); do
        set +e
        /usr/bin/time -f '%e s %M KB' -o "$OUT/time.txt" "$@" >"$OUT/run.out" 2>"$OUT/run.err"
        rc=$?
        set -e
        if [[ $rc -ne 0 ]]; then
            echo "bench.sh: '$name' exited with status $rc (expected 0): $*" >&2
            head -n 20 "$OUT/run.out" "$OUT/run.err" >&2
            return 1
        fi
        read -r s _ kb _ < <(tail -n 1 "$OUT/time.txt")
        if [[ -z "$BEST_S" ]] || awk -v a="$s" -v b="$BEST_S" 'BEGIN { exit !(a < b) }'; then
            BEST_S="$s"
        fi
        if ((kb > PEAK_KB)); then PEAK_KB="$kb"; fi
        echo "    $name run $i: $s s, $kb KB" >&2
    done
}

ROWS=()
step "measure yaml-floor on $DATA (best of $RUNS)"
measure "yaml-floor" "$FLOOR" "$DATA"
FLOOR_OUT="$(cat "$OUT/run.out")"
echo "    $FLOOR_OUT" >&2
FLOOR_S="$BEST_S"
ROWS+=("yaml-floor (libyaml events)|$BEST_S|$PEAK_KB")

if [[ -n "$ROSTER" ]]; then
    step "measure roster validate on $DATA (best of $RUNS)"
    measure "roster validate" "$ROSTER" validate --config "$DATA/roster.yaml"
    ROWS+=("roster validate|$BEST_S|$PEAK_KB")
fi

step "report"
echo
echo "scale $SCALE, $DATA: $FLOOR_OUT; best of $RUNS runs"
printf '%-30s %9s %13s %9s\n' "command" "seconds" "peak RSS MB" "x floor"
for row in "${ROWS[@]}"; do
    IFS='|' read -r name s kb <<<"$row"
    awk -v n="$name" -v s="$s" -v kb="$kb" -v f="$FLOOR_S" 'BEGIN {
        printf "%-30s %9.2f %13.1f %9s\n", n, s, kb / 1024, (f > 0 ? sprintf("%.2f", s / f) : "n/a")
    }'
done
