"""OpenAI-compatible stand-in servers on loopback for the serving and judge tests: a handler base
that parses the request and sends the reply a subclass builds, and a chat-completion body."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat_completion(model: str, content: str) -> dict:
    message = {"role": "assistant", "content": content}
    return {"id": "chatcmpl-standin", "object": "chat.completion", "created": 0, "model": model, "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class StandIn(BaseHTTPRequestHandler):
    """POST handler: `reply(body)` (a subclass's) answers the parsed JSON request."""

    def reply(self, body: dict) -> dict:
        raise NotImplementedError

    def do_POST(self):  # noqa: N802 (http.server's name)
        out = json.dumps(self.reply(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def start(handler: type[StandIn], **attributes) -> ThreadingHTTPServer:
    """A running server on a free loopback port, with `attributes` set on it for the handler."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for key, value in attributes.items():
        setattr(server, key, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
