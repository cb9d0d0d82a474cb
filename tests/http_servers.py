"""A real HTTP endpoint on 127.0.0.1 for token-fetch tests: it records every request and
answers what the test's responder says (a token, an error, a redirect, a huge body)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class HttpReply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200) -> HttpReply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


Responder = Callable[[HttpRequest], HttpReply]


class HttpEndpoint:
    """Serves on a free loopback port until `close()`; `requests` lists what arrived."""

    def __init__(self, responder: Responder) -> None:
        self.requests: list[HttpRequest] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                request = HttpRequest(
                    "POST", self.path, dict(self.headers.items()), dict(parse_qsl(body))
                )
                endpoint.requests.append(request)
                reply = responder(request)
                self.send_response(reply.status)
                for name, value in (reply.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}/token"
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
