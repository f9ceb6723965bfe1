"""A small real Flask app instrumented by highlight-io; run by tests/test_highlight_python.py.

Runs in the test's highlight-io venv. Serves the page (already pointed at hl-local by the test), the
browser SDK bundle, and POST /api/checkout, which logs a line and raises. highlight-io's
FlaskIntegration wraps every request in `H.trace`, taking the session and request ids from the
X-Highlight-Request header the browser SDK adds, and records the crash.

    python flask_app.py OTLP_ENDPOINT PAGE_HTML SDK_BUNDLE

Prints `listening http://127.0.0.1:PORT` once it serves. SIGTERM exits through the interpreter's
exit, so highlight-io's providers export what is still queued.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import highlight_io
from flask import Flask, Response, request
from highlight_io.integrations.flask import FlaskIntegration
from werkzeug.serving import WSGIRequestHandler, make_server

log = logging.getLogger("shop")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # werkzeug's access lines would be exported as logs of their own traces


def create_app(page: bytes, bundle: bytes) -> Flask:
    app = Flask("shop")

    @app.get("/")
    def index() -> Response:
        return Response(page, content_type="text/html; charset=utf-8")

    @app.get("/highlight.umd.js")
    def sdk() -> Response:
        return Response(bundle, content_type="text/javascript")

    @app.post("/api/checkout")
    def checkout() -> Any:
        order = request.get_json()
        log.info("checkout for %s with %d items", order["name"], order["items"])
        raise RuntimeError(f"checkout failed for {order['name']}")  # raise:checkout

    return app


def main() -> None:
    endpoint, page_path, bundle_path = sys.argv[1:4]
    highlight_io.H(
        "1",
        integrations=[FlaskIntegration()],
        otlp_endpoint=endpoint,
        service_name="flask-shop",
        service_version="v-test",
        environment="ci",
    )
    app = create_app(Path(page_path).read_bytes(), Path(bundle_path).read_bytes())
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
