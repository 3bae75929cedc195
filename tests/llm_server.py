"""A small OpenAI-compatible server on 127.0.0.1 whose replies a test scripts: chat completions
(whole or streamed as server-sent events ending in ``data: [DONE]``), the model listing, error
statuses, and streams cut off in the middle. It records every request it gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted-model"


@dataclass
class Reply:
    """One scripted answer to a chat completion request."""

    text: str = ""
    #: An HTTP error status to answer with instead (429, 500...).
    status: int = 200
    #: Streamed in pieces of this many characters.
    piece: int = 7
    #: Close the connection after this many pieces, with no end of stream.
    cut_after: int | None = None
    #: Seconds to wait before answering.
    delay: float = 0.0


@dataclass
class ScriptedLLM:
    """The server's state: replies to hand out in order, and the requests it received."""

    key: str = "test-key"
    replies: list[Reply] = field(default_factory=list)
    #: Used when ``replies`` is empty: makes a reply from the request's JSON body.
    default: Callable[[dict[str, Any]], Reply] = lambda body: Reply("No script left.")
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def next_reply(self, body: dict[str, Any]) -> Reply:
        return self.replies.pop(0) if self.replies else self.default(body)


def _handler(state: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {state.key}":
                return True
            self._json(
                401,
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request"}},
            )
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(body)
            if not self._authorized():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": "not found"}})
                return
            reply = state.next_reply(body)
            time.sleep(reply.delay)
            if reply.status != 200:
                self._json(reply.status, {"error": {"message": f"scripted {reply.status}"}})
                return
            if body.get("stream"):
                self._stream(reply, body.get("model", MODEL))
            else:
                self._json(
                    200,
                    {
                        "id": "cmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", MODEL),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

        def _event(self, payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        def _stream(self, reply: Reply, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()

            def chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
                return {
                    "id": "cmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }

            self._event(chunk({"role": "assistant", "content": ""}, None))
            pieces = [
                reply.text[i : i + reply.piece] for i in range(0, len(reply.text), reply.piece)
            ]
            for number, piece in enumerate(pieces):
                if reply.cut_after is not None and number >= reply.cut_after:
                    self.close_connection = True
                    return
                self._event(chunk({"content": piece}, None))
            self._event(chunk({}, "stop"))
            self._event("[DONE]")

    return Handler


class LLMServer:
    """Runs a ``ScriptedLLM`` on a free port of 127.0.0.1 until ``stop``."""

    def __init__(self, state: ScriptedLLM | None = None) -> None:
        self.state = state or ScriptedLLM()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        self.state.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
