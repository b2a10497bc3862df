"""A real HTTP model server on loopback whose behaviour a test can change: answer, fail
with 500s, hang, or be down."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ModelServer:
    def __init__(self, answer: Any = "normal", delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.mode = "ok"  # ok | error | hang
        self.calls = 0
        self.answered = 0
        # While set to an unset Event, answers wait for it (up to 5 s): a test can hold a
        # call open and see what did not wait for it.
        self.gate: threading.Event | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.calls += 1
                if owner.mode == "hang":
                    time.sleep(5)
                if owner.delay:
                    time.sleep(owner.delay)
                if owner.gate is not None:
                    owner.gate.wait(timeout=5)
                if owner.mode == "error":
                    payload, status = b'{"detail": "boom"}', 500
                else:
                    answer = (
                        owner.answer(body["features"]) if callable(owner.answer) else owner.answer
                    )
                    payload, status = json.dumps({"prediction": answer}).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                owner.answered += 1

            def log_message(self, *args: object) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a caller that gave up on a hanging answer closes its socket

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/predict"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
