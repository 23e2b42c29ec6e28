#!/usr/bin/env bash
# Measure invitation delivery (SPEC §6.1, issue 14):
#
#   scripts/bench-delivery.sh [COUNT]     COUNT messages, default 10000
#
# 1. webhook: `roster deliver --now` of COUNT messages to a local receiver (the tests'
#    Tests/RosterCLITests/Fixtures/webhook-receiver.py: Python's http.server, every request
#    verified with the reference standardwebhooks package); messages/s and the TCP
#    connections the receiver accepted.
# 2. sendmail: `roster deliver --now` of COUNT mails through Debian's msmtp to msmtpd (one
#    `msmtpd --inetd` per connection) on a loopback port, each mail piped to `cat` into a
#    folder; messages/s.
#
# Each directory (one customer, COUNT invited users in accounts of 100) is applied first with
# the channel unusable (the webhook secret unset, a sendmail command that does not exist), so
# every message waits in the outbox, never attempted; then one `roster deliver --now` is
# timed with /usr/bin/time. Builds roster in release unless ROSTER_BIN=PATH is given.
# Needs python3 with standardwebhooks, msmtp and msmtp-mta (installed when missing).
set -Eeuo pipefail

COUNT="${1:-10000}"
[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/bench-delivery.sh [COUNT]" >&2; exit 64; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="$PWD/.build-bench/delivery-$COUNT"
STEP="start"
PIDS=()
step() {
    STEP="$1"
    echo "==> $STEP" >&2
}
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap 'echo "bench-delivery.sh: FAILED at step: $STEP (line $LINENO)" >&2' ERR
trap cleanup EXIT

step "install what is missing (time, msmtp, msmtp-mta, python3 standardwebhooks)"
scripts/install-deps time msmtp msmtp-mta
python3 -c 'import standardwebhooks' 2>/dev/null || python3 -m pip install --quiet standardwebhooks \
    || python3 -m pip install --quiet --user --break-system-packages standardwebhooks

ROSTER="${ROSTER_BIN:-}"
if [[ -z "$ROSTER" ]]; then
    step "build roster in release (swift build -c release --product roster)"
    swift build -c release --product roster >&2
    ROSTER="$(swift build -c release --show-bin-path)/roster"
fi
[[ -x "$ROSTER" ]] || { echo "bench-delivery.sh: no executable at $ROSTER" >&2; false; }

# project DIR DELIVERY: a project of COUNT invited users in DIR delivering with DELIVERY.
project() {
    rm -rf "$1"
    python3 - "$1" "$COUNT" "$2" <<'EOF'
import os, sys
root, count, delivery = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(os.path.join(root, "directory"))
emails = [f"user{i:06d}@bench.example" for i in range(count)]
with open(os.path.join(root, "roster.yaml"), "w") as f:
    f.write("version: 1\nsources: [directory]\npermissions:\n  streams: [read]\n"
            "limits:\n  accountsPerCustomer: 100000\n  membersPerAccount: 1000\n"
            "invitations:\n  acceptUrl: https://portal.example.com/invite?token={token}\n"
            '  from: "ACME Portal <no-reply@portal.example.com>"\n'
            f"  delivery: {{{delivery}}}\n")
with open(os.path.join(root, "directory", "users.yaml"), "w") as f:
    f.write("---\n".join(f"kind: User\nemail: {e}\nname: User {i}\n" for i, e in enumerate(emails)))
with open(os.path.join(root, "directory", "accounts.yaml"), "w") as f:
    f.write("kind: Role\nid: viewer\npermissions: {streams: [read]}\n---\n"
            f"kind: Customer\nid: bench\nowner: {emails[0]}\n")
    for a in range(0, count, 100):
        f.write(f"---\nkind: Account\nid: acc-{a // 100}\ncustomer: bench\nmembers:\n")
        f.write("".join(f"  - user: {e}\n    roles: [viewer]\n" for e in emails[a:a + 100]))
EOF
}

# pending DIR: the number of pending messages in DIR's store.
pending() {
    "$ROSTER" outbox --config "$1/roster.yaml" --status pending --format json \
        | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["messages"]))'
}

# timed NAME DIR ARGS...: runs roster ARGS in DIR under /usr/bin/time; sets SECONDS_TAKEN and CPU.
timed() {
    local name="$1" dir="$2" user sys
    shift 2
    (cd "$dir" && /usr/bin/time -f '%e %U %S %M' -o "$OUT/$name.time" env "${BENCH_ENV[@]}" "$ROSTER" "$@" \
        >"$OUT/$name.out" 2>"$OUT/$name.err") || {
        echo "bench-delivery.sh: '$name' failed:" >&2
        tail -n 5 "$OUT/$name.out" "$OUT/$name.err" >&2
        return 1
    }
    read -r SECONDS_TAKEN user sys PEAK_KB < "$OUT/$name.time"
    CPU="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
}

mkdir -p "$OUT"
ROWS=()
SECRET="whsec_$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"

step "webhook: start the receiver"
RECEIVER="$OUT/receiver"
rm -rf "$RECEIVER" && mkdir -p "$RECEIVER"
echo '{}' > "$RECEIVER/mode"
WEBHOOK_SECRET="$SECRET" python3 Tests/RosterCLITests/Fixtures/webhook-receiver.py "$RECEIVER" &
PIDS+=($!)
for _ in $(seq 100); do [[ -f "$RECEIVER/port" ]] && break; sleep 0.1; done
PORT="$(cat "$RECEIVER/port")"

step "webhook: a project of $COUNT invitations, applied with the secret unset"
project "$OUT/webhook" "kind: webhook, url: http://127.0.0.1:$PORT/hooks/invitations, secretEnv: BENCH_WEBHOOK_SECRET"
BENCH_ENV=(-u BENCH_WEBHOOK_SECRET)
timed "apply-webhook" "$OUT/webhook" apply --auto-approve
[[ "$(pending "$OUT/webhook")" == "$COUNT" ]] || { echo "expected $COUNT pending messages" >&2; false; }

step "webhook: roster deliver --now ($COUNT messages)"
BENCH_ENV=(BENCH_WEBHOOK_SECRET="$SECRET")
timed "deliver-webhook" "$OUT/webhook" deliver --now
RECEIVED="$(wc -l < "$RECEIVER/requests.jsonl")"
VERIFIED="$(grep -c '"verified": true' "$RECEIVER/requests.jsonl" || true)"
CONNECTIONS="$(cat "$RECEIVER/connections")"
[[ "$VERIFIED" == "$COUNT" && "$RECEIVED" == "$COUNT" ]] \
    || { echo "expected $COUNT verified requests, got $VERIFIED of $RECEIVED" >&2; false; }
ROWS+=("webhook -> local receiver|$SECONDS_TAKEN|$CPU|$PEAK_KB|$CONNECTIONS connections")

step "sendmail: start msmtpd (one --inetd session per connection) on a free loopback port"
MAIL="$OUT/mail"
rm -rf "$MAIL" && mkdir -p "$MAIL/in"
cat > "$MAIL/store" <<EOF
#!/bin/sh
cat > "$MAIL/in/\$\$-\$(date +%s%N)"
EOF
chmod +x "$MAIL/store"
# msmtpd as a daemon reaps its finished sessions lazily and stops accepting at 16 of them
# (msmtp clients then wait for minutes), so each connection gets an `msmtpd --inetd` of its
# own from a small accept loop, as inetd would start it.
python3 - "$MAIL" <<'EOF' &
import os, socket, subprocess, sys, threading
folder = sys.argv[1]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
with open(folder + "/port.tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.replace(folder + "/port.tmp", folder + "/port")
while True:
    connection, _ = listener.accept()
    session = subprocess.Popen(["msmtpd", "--inetd", "--command=" + folder + "/store"], stdin=connection, stdout=connection)
    connection.close()
    threading.Thread(target=session.wait, daemon=True).start()
EOF
PIDS+=($!)
for _ in $(seq 100); do [[ -f "$MAIL/port" ]] && break; sleep 0.1; done
SMTP_PORT="$(cat "$MAIL/port")"

step "sendmail: a project of $COUNT invitations, applied with a command that does not exist"
project "$OUT/sendmail" 'kind: sendmail, command: "/nonexistent/sendmail -t"'
BENCH_ENV=()
timed "apply-sendmail" "$OUT/sendmail" apply --auto-approve
[[ "$(pending "$OUT/sendmail")" == "$COUNT" ]] || { echo "expected $COUNT pending messages" >&2; false; }
MSMTP="$(command -v msmtp)"
sed -i "s|/nonexistent/sendmail -t|$MSMTP -C /dev/null -t --read-envelope-from --host=127.0.0.1 --port=$SMTP_PORT --auth=off --tls=off|" \
    "$OUT/sendmail/roster.yaml"

step "sendmail: roster deliver --now ($COUNT mails through msmtp -> msmtpd)"
timed "deliver-sendmail" "$OUT/sendmail" deliver --now
sleep 1
MAILS="$(find "$MAIL/in" -type f | wc -l)"
[[ "$MAILS" == "$COUNT" ]] || { echo "expected $COUNT mails, msmtpd received $MAILS" >&2; false; }
ROWS+=("sendmail -> msmtp -> msmtpd|$SECONDS_TAKEN|$CPU|$PEAK_KB|$MAILS mails")

step "report"
echo
echo "$COUNT messages per run, one run each; $(nproc) cores"
printf '%-30s %9s %9s %11s %13s %s\n' "roster deliver --now" "seconds" "cpu s" "messages/s" "peak RSS MB" "received"
for row in "${ROWS[@]}"; do
    IFS='|' read -r name s cpu kb what <<<"$row"
    awk -v n="$name" -v s="$s" -v c="$cpu" -v kb="$kb" -v count="$COUNT" -v w="$what" 'BEGIN {
        printf "%-30s %9.2f %9.2f %11.0f %13.1f %s\n", n, s, c, count / s, kb / 1024, w
    }'
done
