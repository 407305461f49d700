"""Local servers the tests send to: an HTTP server that plays a DingTalk / WeCom / Feishu robot
or a webhook receiver (verifying signatures like the real ones), and an SMTP server (aiosmtpd).
Nothing is mocked: the channels open real sockets to these."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"
HANG_SECONDS = 8


@dataclass
class Received:
    path: str
    query: dict
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body.decode())


Reply = tuple[int, object] | str  # (status, JSON body) or HANG
Handler = Callable[[Received], Reply]


@dataclass
class RobotServer:
    """``replies`` are used in order (then ``default``); a reply may be a callable of the
    request (used to verify signatures)."""

    default: Reply | Handler = (200, {"errcode": 0, "errmsg": "ok"})
    replies: list = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    path: str = "/robot/send?access_token=test-token"

    def start(self) -> RobotServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urllib.parse.urlsplit(self.path)
                received = Received(
                    path=parts.path,
                    query=dict(urllib.parse.parse_qsl(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                server.requests.append(received)
                reply = server.replies.pop(0) if server.replies else server.default
                if callable(reply):
                    reply = reply(received)
                if reply == HANG:
                    time.sleep(HANG_SECONDS)
                    return
                status, body = reply
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- What the real services check -------------------------------------------------------------


def dingtalk_verifier(secret: str) -> Handler:
    """Like DingTalk: timestamp within an hour and sign = base64(hmac(secret, ts\\nsecret))."""

    def verify(received: Received) -> Reply:
        timestamp = received.query.get("timestamp", "")
        sign = received.query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
        if not fresh or not hmac.compare_digest(sign, expected):
            return (200, {"errcode": 310000, "errmsg": "sign not match"})
        return (200, {"errcode": 0, "errmsg": "ok"})

    return verify


def feishu_verifier(secret: str) -> Handler:
    """Like Feishu: sign = base64(hmac(key=f"{timestamp}\\n{secret}", msg=b""))."""

    def verify(received: Received) -> Reply:
        body = received.json
        timestamp = str(body.get("timestamp", ""))
        key = f"{timestamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(str(body.get("sign", "")), expected):
            return (200, {"code": 19021, "msg": "sign match fail", "data": {}})
        return (200, {"code": 0, "msg": "success", "data": {}})

    return verify


def webhook_signature_ok(received: Received, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received.headers.get("x-itassets-signature", ""), expected)


# --- SMTP -------------------------------------------------------------------------------------


class SmtpServer:
    """aiosmtpd on a free loopback port; ``messages`` are parsed ``EmailMessage`` objects."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        server = self

        class Collect:
            async def handle_DATA(self, smtp, session, envelope):
                server.envelopes.append(envelope)
                server.messages.append(
                    email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Collect(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], *, timeout: float = 30, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
