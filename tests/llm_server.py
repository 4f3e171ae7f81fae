"""A scripted chat-completions server on 127.0.0.1 for the LLM tests.

A real HTTP server (stdlib ``http.server`` in a thread) speaking the subset of the
OpenAI protocol sld uses: ``POST /v1/chat/completions`` → a ``chat.completion``
object. What it answers is decided by ``script(body, n)`` (the request's JSON body
and its 0-based arrival number), returning a :class:`Reply`: content with usage, or
an HTTP error with headers. A ``stall`` reply is held until the server closes, so it
is slower than any client timeout however loaded the machine is (no race between a
fixed delay and the timeout).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY_SECONDS = 10.0
"""The client timeout the tests use: a scripted reply takes milliseconds of work, so only a
``stall`` reply runs into it, even on a loaded machine."""


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``status != 200`` sends ``error`` as an OpenAI error body;
    ``stall`` holds the answer until the server closes (the client times out first)."""

    content: str = ""
    status: int = 200
    error: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False
    prompt_tokens: int = 100
    completion_tokens: int = 20
    raw: bytes | None = None  # sent verbatim instead of a JSON body


def laws_json(*laws: str) -> str:
    """A structured reply holding ``laws``."""
    return json.dumps({"laws": [{"law": law, "rationale": "scripted"} for law in laws]})


Script = Callable[[dict[str, Any], int], Reply]


class FakeOpenAI:
    """Start with ``with FakeOpenAI(script) as server:``; ``server.base_url`` is the endpoint.

    ``requests`` holds every request body in arrival order; ``usage`` the token
    counts actually sent back with successful replies.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.sent: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                with outer._lock:
                    n = len(outer.requests)
                    outer.requests.append(body)
                reply = outer.script(body, n)
                if reply.stall:
                    outer._closing.wait()
                if reply.raw is not None:
                    self._send_bytes(reply.status, reply.raw, reply.headers)
                    return
                if reply.status != 200:
                    self._send(
                        reply.status,
                        {"error": {"message": reply.error, "type": "scripted"}},
                        reply.headers,
                    )
                    return
                with outer._lock:
                    outer.sent.append((reply.prompt_tokens, reply.completion_tokens))
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{n}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "scripted"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": reply.prompt_tokens,
                            "completion_tokens": reply.completion_tokens,
                            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                        },
                    },
                    reply.headers,
                )

            def _send(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                self._send_bytes(status, json.dumps(payload).encode(), headers or {})

            def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # stalled handlers answer a client that has given up
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port_url() -> str:
    """An endpoint URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
