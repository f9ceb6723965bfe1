"""HTTP connections within bounds: a deadline for a request's headers, and idle ones evicted for new ones.

uvicorn starts no timer before a connection's first request, so a socket that sends nothing (or
its headers a byte at a time) was held forever; about 1,000 of them used up the process's file
descriptors and nothing, the UI included, could connect. Here:

- a connection must complete its request headers within HEADERS_TIMEOUT_S of opening (and of
  each keep-alive response: uvicorn's own keep-alive timeout then applies, 5 s);
- past MAX_CONNECTIONS open connections, a new one makes room by closing the longest-idle
  connection that has no request in progress, so a UI or an exporter can always connect;
- the soft file-descriptor limit is raised to the hard one (runtime.run), well above the cap.

Bodies that arrive too slowly are ingest/body.py's (a deadline per body, 408).
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADERS_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 2_000


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for headers and a cap on open connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headers_deadline: asyncio.TimerHandle | None = None
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows it
        super().connection_made(transport)
        self._await_headers()
        if len(self.connections) > MAX_CONNECTIONS:
            _evict_idle(self.connections, keep=self)

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.idle_since = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._headers_deadline = self.loop.call_later(HEADERS_TIMEOUT_S, self._headers_too_late)

    def _headers_too_late(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def _cancel_deadline(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    @property
    def busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete


def _evict_idle(connections: set[Any], keep: BoundedHttpProtocol) -> None:
    idle = [c for c in connections if isinstance(c, BoundedHttpProtocol) and c is not keep and not c.busy]
    for connection in sorted(idle, key=lambda c: c.idle_since)[: max(1, len(connections) - MAX_CONNECTIONS)]:
        connection.transport.close()


def raise_file_limit() -> None:
    """Let the process open as many files as it may (the soft limit is often 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65_536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
