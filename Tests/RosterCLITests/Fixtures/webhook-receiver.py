#!/usr/bin/env python3
"""A webhook receiver for roster's delivery tests and benchmarks: a real HTTP server on
127.0.0.1 that verifies every request with the reference Standard Webhooks library
(`pip install standardwebhooks`) and records what it received.

    webhook-receiver.py STATE_DIR [--port N]        (the secret in $WEBHOOK_SECRET)

STATE_DIR/port        written once the server listens (N, or the free port it was given with 0)
STATE_DIR/requests.jsonl  one JSON object per request, appended on arrival (before any delay):
                      n, path, headers (lower-case names), body, verified, error, status, at
STATE_DIR/connections the number of TCP connections accepted so far
STATE_DIR/mode        read at every request, so a test can change it between runs: a JSON
                      object, every key optional:
                        "status": 503        the answer (default 200)
                        "first": 3           only the first 3 requests get `status`, later ones 200
                        "retry-after": "120" a Retry-After header with this value (not on a 200)
                        "location": URL      a Location header (for a 302)
                        "delay": 0.5         seconds to wait before answering (a slow or hung receiver)
STATE_DIR/clock       optional Unix seconds: the library checks each webhook-timestamp against
                      this clock instead of the real one (the tests move roster's clock)

A request that does not verify is recorded with verified=false and answered 401. One whose
connection closes before its body is complete is not a request: it is neither recorded nor answered.
"""
import json
import os
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import standardwebhooks.webhooks as webhooks
    from standardwebhooks import Webhook
except ImportError:
    sys.stderr.write("webhook-receiver.py: the Python package standardwebhooks is missing: "
                     "python3 -m pip install standardwebhooks (scripts/test installs it)\n")
    sys.exit(3)

STATE = sys.argv[1]
PORT = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
HOOK = Webhook(os.environ["WEBHOOK_SECRET"])
LOCK = threading.Lock()
COUNTS = {"requests": 0, "connections": 0}
LOG = open(os.path.join(STATE, "requests.jsonl"), "a", encoding="utf-8")


def read_file(name):
    try:
        with open(os.path.join(STATE, name), encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


class TestClock(datetime):
    """datetime whose now() is STATE/clock when that file exists."""

    @classmethod
    def now(cls, tz=None):
        clock = read_file("clock")
        if clock:
            return datetime.fromtimestamp(float(clock), tz)
        return datetime.now(tz)


webhooks.datetime = TestClock


def write_atomically(name, text):
    path = os.path.join(STATE, name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: roster reuses its connections

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if len(body) < length:
            # The sender went away in the middle of the body (a test kills roster with SIGKILL):
            # no request arrived, as for any HTTP server; nothing is recorded or answered.
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        mode = json.loads(read_file("mode") or "{}")
        with LOCK:
            n = COUNTS["requests"]
            COUNTS["requests"] += 1
        verified, error = True, None
        try:
            HOOK.verify(body, headers)
        except Exception as e:  # any failure to verify is recorded and answered 401
            verified, error = False, f"{type(e).__name__}: {e}"
        status = int(mode.get("status", 200))
        if "first" in mode and n >= int(mode["first"]):
            status = 200
        if not verified:
            status = 401
        record = {"n": n, "path": self.path, "headers": headers, "body": body.decode("utf-8", "replace"),
                  "verified": verified, "error": error, "status": status, "at": time.time()}
        with LOCK:
            LOG.write(json.dumps(record, sort_keys=True) + "\n")
            LOG.flush()
        delay = float(mode.get("delay", 0))
        if delay > 0:
            time.sleep(delay)
        try:
            self.send_response(status)
            if status != 200 and "retry-after" in mode:
                self.send_header("Retry-After", str(mode["retry-after"]))
            if "location" in mode:
                self.send_header("Location", mode["location"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass  # roster gave up waiting (a timeout): nothing to answer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def get_request(self):
        connection = super().get_request()
        with LOCK:
            COUNTS["connections"] += 1
            write_atomically("connections", str(COUNTS["connections"]))
        return connection


server = Server(("127.0.0.1", PORT), Receiver)
write_atomically("connections", "0")
write_atomically("port", str(server.server_address[1]))
server.serve_forever()
