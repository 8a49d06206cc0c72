"""A real HTTP endpoint on 127.0.0.1 for webhooks the product sends (Apprise ``json://`` notifications, the hub's
subscribers): ``down()`` stops it (connections refused), ``up()`` serves again on the same port. A subclass says
what a POST gets with ``post(path, headers, body) -> status``."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping


class Endpoint:
    def __init__(self) -> None:
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def post(self, path: str, headers: Mapping[str, str], body: bytes) -> int:
        raise NotImplementedError

    def up(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(outer.post(self.path, self.headers, body))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
