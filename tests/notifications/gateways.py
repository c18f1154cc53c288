"""Stand-ins that really listen: an HTTP gateway (SMS, WeChat, an integrator's webhook
receiver) on 127.0.0.1, and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class HttpGateway:
    """Accepts POSTs; the first `fail_first` get HTTP 500 (the gateway is down), later ones
    200 with {"id": ..., "msgid": ..., "errcode": 0}. `accepted` is what it took."""

    fail_first: int = 0
    status_on_fail: int = 500
    accepted: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)
    delay_s: float = 0.0

    def __post_init__(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = Received(self.path, dict(self.headers), body)
                with gateway.lock:
                    fail = len(gateway.refused) < gateway.fail_first
                    (gateway.refused if fail else gateway.accepted).append(received)
                    n = len(gateway.accepted)
                if gateway.delay_s:
                    threading.Event().wait(gateway.delay_s)
                reply = b'{"error": "down"}' if fail else json.dumps(
                    {"id": f"GW-{n}", "msgid": n, "errcode": 0}).encode()
                self.send_response(gateway.status_on_fail if fail else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A real SMTP server on 127.0.0.1 keeping every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                mailbox.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                               policy=policy.default)))
                return "250 OK"

        with socket.socket() as probe:  # the controller checks its port by connecting: give it a real one
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self):
        self.controller.stop()
