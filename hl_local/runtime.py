"""Runs hl-local: binds every socket first, then serves HTTP (uvicorn) and gRPC on one event loop.

Binding before anything starts makes a busy port a clear start-up error and lets port 0 report
the port it really got. Shutdown order: stop taking requests, let the writer commit everything
queued (so nothing acknowledged is lost), checkpoint, close.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from hl_local.app import create_app
from hl_local.config import Settings
from hl_local.errors import PortInUse
from hl_local.ingest.otlp_grpc import start_grpc_server
from hl_local.store.db import Store
from hl_local.store.writer import Writer

log = logging.getLogger("hl_local")


@dataclass
class Listeners:
    ui: socket.socket
    otlp_http: socket.socket | None
    grpc_port: int = 0


def bind_socket(what: str, host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # lets a restart reuse TIME_WAIT ports only
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise PortInUse(what, host, port, reason) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int, scheme: str = "http") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


async def serve(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    started = time.perf_counter()
    ui = bind_socket("the UI and API", settings.host, settings.port)
    sockets = [ui]
    if settings.otlp_http_port != settings.port or settings.port == 0:
        sockets.append(bind_socket("OTLP/HTTP", settings.host, settings.otlp_http_port))
    store = Store.open(settings.database)
    writer = Writer(store, settings.max_pending_rows)
    writer.start()
    grpc_server = None
    try:
        grpc_server, grpc_port = await start_grpc_server(writer, settings.host, settings.otlp_grpc_port)
        app = create_app(store, writer, settings)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, server_header=False)  # fmt: skip
        server = uvicorn.Server(config)
        _keep_signals_for_cleanup()
        # Everything allocated so far lives for the whole run: keep the cyclic GC off it.
        gc.collect()
        gc.freeze()
        ui_url = _url(settings.host, _port(ui))
        lines = [
            f"hl-local UI and API    {ui_url}",
            f"OTLP/HTTP              {_url(settings.host, _port(sockets[-1]))}/v1/traces (logs, metrics)",
            f"OTLP/gRPC              {settings.host}:{grpc_port}",
            f"Highlight backendUrl   {ui_url}/public",
            f"database               {store.path or ':memory: (nothing is kept)'}",
        ]
        print("\n".join(lines), flush=True)
        log.debug("ready in %.3f s", time.perf_counter() - started)
        if on_ready:
            on_ready(ui_url)
        await server.serve(sockets=sockets)
    finally:
        if grpc_server is not None:
            await grpc_server.stop(grace=2)
        writer.close()
        store.close()
        for sock in sockets:
            sock.close()
        print("hl-local stopped; everything acknowledged is in the database", file=sys.stderr, flush=True)


def _keep_signals_for_cleanup() -> None:
    """uvicorn re-raises SIGINT/SIGTERM after it stops; make that harmless so our cleanup runs."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)


def run(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    sys.setswitchinterval(0.001)  # UI reads should not wait 5 ms slices behind a decode
    if os.environ.get("HL_LOCAL_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    asyncio.run(serve(settings, on_ready))
