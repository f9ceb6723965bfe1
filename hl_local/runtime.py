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
from typing import TYPE_CHECKING

import uvicorn

from hl_local import __version__, instance
from hl_local.app import create_app
from hl_local.config import Settings
from hl_local.connections import BoundedHttpProtocol, raise_file_limit
from hl_local.errors import AlreadyRunning, PortInUse, WriterStopped
from hl_local.ingest.body import use_decoder_pool
from hl_local.ingest.decoders import DecoderPool
from hl_local.ingest.decoders import default_count as default_decoder_count
from hl_local.ingest.otlp_grpc import start_grpc_server
from hl_local.query.overview import Addresses
from hl_local.source.frames import Sources
from hl_local.store.db import Store
from hl_local.store.retention import Limits
from hl_local.store.writer import Writer
from hl_local.terminal import Terminal
from hl_local.ui import watch_bundle

if TYPE_CHECKING:
    from hl_local.forward import Forwarder

log = logging.getLogger("hl_local")


@dataclass
class Listeners:
    ui: socket.socket
    otlp_http: socket.socket | None
    grpc_port: int = 0


def bind_socket(what: str, host: str, port: int, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # lets a restart reuse TIME_WAIT ports only
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE and (pid := instance.hl_local_at(host, port)) is not None:
            raise AlreadyRunning(what, host, port, pid) from None
        reason = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise PortInUse(what, host, port, reason) from None
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _check_grpc_port(host: str, port: int) -> None:
    """Fail early, with the same one-line message as the HTTP ports, when the gRPC port is taken.

    grpcio would refuse it too, but only after logging its own C-core error line to stderr and with a
    message that hides the cause; and checking before the database opens keeps a busy port cheap.
    """
    if port != 0:
        bind_socket("OTLP/gRPC", host, port, listen=False).close()


def _url(host: str, port: int, scheme: str = "http") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


async def serve(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    started = time.perf_counter()
    # Forked first: before a socket is bound (a worker would hold it) or a thread runs (DuckDB's).
    decoders = DecoderPool(0 if settings.read_only else _decoder_count(settings))
    decoders.start()
    sockets: list[socket.socket] = []
    try:
        ui = bind_socket("the UI and API", settings.host, settings.port)
        sockets.append(ui)
        if settings.otlp_http_port != settings.port or settings.port == 0:
            sockets.append(bind_socket("OTLP/HTTP", settings.host, settings.otlp_http_port))
        _check_grpc_port(settings.host, settings.otlp_grpc_port)
        store = Store.open(settings.database, read_only=settings.read_only)
    except BaseException:
        decoders.stop()
        for sock in sockets:
            sock.close()
        raise
    use_decoder_pool(decoders if decoders.running else None)
    limits = Limits(settings.max_size, settings.max_age * 1_000_000_000)
    sources = Sources.from_settings(settings)
    stop = _StopOnSignal()
    loop = asyncio.get_running_loop()

    def stop_serving() -> None:  # the writer is gone: a server that never acknowledges must not stay up
        loop.call_soon_threadsafe(stop.stop)

    writer = Writer(store, settings.max_pending_rows, limits, frames_for_grouping=sources.for_grouping,
                    on_failure=stop_serving)  # fmt: skip
    writer.start()
    forwarder = _forwarder(settings)
    grpc_server = None
    ready = False
    stop_watching, watching, reporting = asyncio.Event(), None, None
    try:
        if forwarder is not None:
            await forwarder.start()
        grpc_server, grpc_port = await start_grpc_server(
            writer, settings.host, settings.otlp_grpc_port, forwarder
        )
        app = create_app(store, writer, settings, sources)
        app.state.forwarder = forwarder
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, server_header=False,
                                http=BoundedHttpProtocol)  # fmt: skip
        server = uvicorn.Server(config)
        app.state.server = server  # long-lived streams (/api/live) end when it starts shutting down
        if settings.dev:
            watching = asyncio.create_task(watch_bundle(app.state, stop_watching))
        stop.attach(server)
        # Everything allocated so far lives for the whole run: keep the cyclic GC off it.
        gc.collect()
        gc.freeze()
        ui_url = _url(settings.host, _port(ui))
        otlp_http_url = _url(settings.host, _port(sockets[-1]))
        # the first-run page's snippets name the ports really bound (port 0 picks one)
        app.state.addresses = Addresses(
            ui_url, otlp_http_url, _url(settings.host, grpc_port), f"{ui_url}/public"
        )
        lines = [
            f"hl-local UI and API    {ui_url}",
            f"OTLP/HTTP              {_url(settings.host, _port(sockets[-1]))}/v1/traces (logs, metrics)",
            f"OTLP/gRPC              {settings.host}:{grpc_port}",
            f"Highlight backendUrl   {ui_url}/public",
            f"database               {store.path or ':memory: (nothing is kept)'}",
        ]
        lines += [f"forwarding OTLP to     {url}" for url in settings.forward]
        if settings.read_only:
            lines[-1] += " (read-only: nothing is stored, ingest answers 503)"
        lines.append(f"source files           {sources.roots.describe()}")
        print("\n".join(lines), flush=True)
        ports = (_port(ui), _port(sockets[-1]), grpc_port)
        instance.write(store.path, instance.Instance(os.getpid(), __version__, settings.host, *ports))
        if not settings.quiet:
            reporting = asyncio.create_task(Terminal(store, writer, sources, ui_url).run(stop_watching))
        ready = True
        log.debug("ready in %.3f s", time.perf_counter() - started)
        if on_ready:
            on_ready(ui_url)
        await server.serve(sockets=sockets)
    finally:
        stop_watching.set()
        for task in (watching, reporting):
            if task is not None:
                await task
        if grpc_server is not None:
            await grpc_server.stop(grace=2)
        if forwarder is not None:
            await forwarder.close()
        writer.close()
        use_decoder_pool(None)
        decoders.stop()
        sources.close()
        store.close()
        if ready:
            instance.remove(store.path)
        for sock in sockets:
            sock.close()
        # Frozen objects are never collected, and at exit DuckDB's bindings (nanobind) would report
        # every one of theirs still alive as "leaked": dozens of alarming lines after a clean stop.
        gc.unfreeze()
        if ready and writer.failure is None:  # a failure is reported by the caller, as one line
            done = (
                "the file was not changed"
                if settings.read_only
                else "everything acknowledged is in the database"
            )
            print(f"hl-local stopped; {done}", file=sys.stderr, flush=True)
    if writer.failure is not None:
        raise WriterStopped(str(writer.failure).splitlines()[0] or type(writer.failure).__name__)


def _decoder_count(settings: Settings) -> int:
    return default_decoder_count() if settings.decoders is None else settings.decoders


def _forwarder(settings: Settings) -> Forwarder | None:
    if not settings.forward:
        return None
    from hl_local.forward import Forwarder  # httpx takes ~0.1 s to import: only when forwarding

    return Forwarder(settings.forward, settings.forward_header)


class _StopOnSignal:
    """SIGINT/SIGTERM handling outside uvicorn's own (which it installs only inside `serve`).

    A signal that arrives before uvicorn's handlers are in place (say right after the start-up lines)
    asks the server to stop instead of being lost, which left the process running for good; the one
    uvicorn re-raises after its shutdown is harmless, so our cleanup still runs.
    """

    def __init__(self) -> None:
        self.requested = False
        self._server: uvicorn.Server | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def attach(self, server: uvicorn.Server) -> None:
        self._server = server
        server.should_exit = self.requested  # uvicorn then starts and shuts down at once

    def _handle(self, signum: int, frame: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.requested = True
        if self._server is not None:
            self._server.should_exit = True


def run(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    sys.setswitchinterval(0.001)  # UI reads should not wait 5 ms slices behind a decode
    # Litestar loads its pydantic plugins whenever pydantic can be imported (the mcp package brings
    # it), 0.15-0.4 s of every start, for models this server has none of: in its process it cannot
    # be (a None module makes the import fail, as Python's import system documents).
    if "pydantic" not in sys.modules:
        sys.modules["pydantic"] = None  # type: ignore[assignment]
    raise_file_limit()  # idle sockets must not use up the descriptors (hl_local/connections.py)
    if os.environ.get("HL_LOCAL_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(serve(settings, on_ready))


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (uvicorn[standard] brings it), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
