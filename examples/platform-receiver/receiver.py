#!/usr/bin/env python3
"""A platform's receiver of roster's event feed (SPEC §11), to copy and adapt.

  ROSTER_EVENTS_SECRET=whsec_... python3 receiver.py serve --port 8090 --db platform.db [--log events.jsonl]
  python3 receiver.py issue-token --db platform.db dan@partner.example   # what a login would do
  python3 receiver.py tokens --db platform.db                            # the live tokens

It verifies every request's Standard Webhooks signature with the reference `standardwebhooks`
package, drops duplicates by `webhook-id` (delivery is at-least-once), applies events in `seq`
order, records a gap in `seq` when one shows (with a `types` filter on the endpoint gaps are
expected; without one, a gap means events were lost on this side: fetch them with
`roster events --since N --format json`), and on `user.deactivated` invalidates every token of
that user, as the nanoStream dashboard does when a user is deleted. State lives in SQLite, and
each event is applied in the same transaction that records it, so a crash never applies one
twice or loses one.
"""
import argparse
import os
import secrets
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (webhook_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gaps (after_seq INTEGER NOT NULL, got_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, status TEXT NOT NULL);
INSERT OR IGNORE INTO position (id, last_seq) VALUES (1, 0);
"""


def connect(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode = WAL")  # one fsync per checkpoint, not per event
    db.executescript(SCHEMA)
    return db


def apply_event(db, event):
    """What the platform does with each event; extend it for your own model."""
    kind, change = event["type"], event["data"]["change"]
    if kind == "user.deactivated":
        # The user's sessions and API tokens die with it.
        db.execute("DELETE FROM tokens WHERE lower(email) = lower(?)", (change["id"],))
        db.execute("INSERT OR REPLACE INTO users (email, status) VALUES (lower(?), 'inactive')", (change["id"],))
    elif kind in ("user.invited", "user.adopted", "user.reactivated"):
        db.execute("INSERT OR REPLACE INTO users (email, status) VALUES (lower(?), ?)",
                   (change["id"], "active" if kind == "user.adopted" else "invited"))
    elif kind == "user.activated":
        db.execute("INSERT OR REPLACE INTO users (email, status) VALUES (lower(?), 'active')", (change["id"],))
    elif kind == "membership.revoked":
        pass  # close that account's door: change["before"]["key"] names the user and the scope


def handle(db, hook, headers, body, log=None):
    """Returns the HTTP status to answer."""
    try:
        event = hook.verify(body, headers)
    except Exception:
        return 401  # not from roster, or too old: roster retries only what it really sent
    if log:
        with open(log, "ab") as out:  # every verified body, duplicates too, byte for byte
            out.write(body + b"\n")
    webhook_id, seq = headers["webhook-id"], event["data"]["seq"]
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT 1 FROM received WHERE webhook_id = ?", (webhook_id,)).fetchone():
            db.execute("ROLLBACK")
            return 200  # a duplicate: already applied
        (last,) = db.execute("SELECT last_seq FROM position").fetchone()
        if seq <= last:
            db.execute("ROLLBACK")
            return 200  # older than what was applied: roster never sends out of order, so a duplicate
        if seq != last + 1:
            db.execute("INSERT INTO gaps (after_seq, got_seq) VALUES (?, ?)", (last, seq))
            print(f"gap: after #{last} came #{seq}; fetch the rest with roster events --since {last}",
                  file=sys.stderr, flush=True)
        apply_event(db, event)
        db.execute("INSERT INTO received (webhook_id, seq, type) VALUES (?, ?, ?)", (webhook_id, seq, event["type"]))
        db.execute("UPDATE position SET last_seq = ?", (seq,))
        db.execute("COMMIT")
        return 204
    except Exception:
        db.execute("ROLLBACK")
        raise


def serve(args):
    hook = Webhook(os.environ[args.secret_env])
    local = threading.local()  # one connection per connection-handling thread, kept for its life

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: roster reuses its connection for the whole feed

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if not hasattr(local, "db"):
                local.db = connect(args.db)
            status = handle(local.db, hook, {k.lower(): v for k, v in self.headers.items()}, body, args.log)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8090)
    s.add_argument("--db", default="platform.db")
    s.add_argument("--secret-env", default="ROSTER_EVENTS_SECRET")
    s.add_argument("--log", help="append every verified body to this file, one per line")
    t = sub.add_parser("issue-token")
    t.add_argument("--db", default="platform.db")
    t.add_argument("email")
    k = sub.add_parser("tokens")
    k.add_argument("--db", default="platform.db")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
    elif args.command == "issue-token":
        db = connect(args.db)
        token = secrets.token_urlsafe(24)
        db.execute("INSERT INTO tokens (token, email) VALUES (?, ?)", (token, args.email))
        print(token)
    else:
        db = connect(args.db)
        for email, count in db.execute("SELECT lower(email), COUNT(*) FROM tokens GROUP BY lower(email) ORDER BY 1"):
            print(f"{email} {count}")


if __name__ == "__main__":
    main()
