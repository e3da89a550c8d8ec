"""A real HTTP server on 127.0.0.1 that plays the image hosts a CSV import meets."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from .factories import BLUE, GREEN, RED, image_bytes


class ImageHost:
    """Routes: /img/<name> serves images[name]; the other paths misbehave on purpose."""

    def __init__(self) -> None:
        self.images = {f"{i}.png": image_bytes(color=(40 * i, 0, 0)) for i in range(8)}
        self.images.update(
            {
                "red.png": image_bytes(color=RED),
                "green.png": image_bytes(color=GREEN),
                "blue.png": image_bytes(color=BLUE),
            }
        )
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        self.hits[path] += 1
        self.hosts.append(handler.headers.get("Host", ""))
        if path.startswith("/img/") and path[5:] in self.images:
            send(handler, 200, self.images[path[5:]])
        elif path == "/flaky.png":
            send(handler, 500, b"try again") if self.hits[path] == 1 else send(
                handler, 200, self.images["red.png"]
            )
        elif path == "/always-500.png":
            send(handler, 503, b"down")
        elif path == "/slow.png":
            time.sleep(1.5)
            send(handler, 200, self.images["red.png"])
        elif path == "/huge.png":  # no Content-Length: only counting while streaming can stop it
            send(handler, 200, b"\x89PNG\r\n\x1a\n" + bytes(200_000), length=False)
        elif path == "/page.html":
            send(handler, 200, b"<!doctype html><html><body>Not found, sorry</body></html>")
        elif path == "/redirect-private":
            redirect(handler, f"http://127.0.0.1:{self.port}/img/0.png")
        elif path == "/redirect-relative":
            redirect(handler, "/img/green.png")
        elif path == "/redirect-loop":
            redirect(handler, "/redirect-loop")
        else:
            send(handler, 404, b"missing")


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, *, length: bool = True) -> None:
    try:
        handler.send_response(status)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (timeout or size limit): that is the point of the test


def redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
    handler.send_response(302)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@contextmanager
def serve() -> Iterator[ImageHost]:
    host = ImageHost()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            host.respond(self)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


class RouteTo(httpx.HTTPTransport):
    """Sends every connection to 127.0.0.1:port whatever address the URL names: lets a test pretend that
    a public address (which this machine cannot reach) is served by the local server."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(host="127.0.0.1", port=self.port)
        return super().handle_request(request)
