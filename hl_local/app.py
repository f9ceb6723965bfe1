"""create_app: the one litestar app served on every HTTP socket (UI/API port and OTLP/HTTP port)."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import LitestarDeprecationWarning, PermissionDeniedException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from hl_local import __version__
from hl_local.config import LOOPBACK_HOSTS, Settings
from hl_local.errors import ReadOnly
from hl_local.export import api as export_api
from hl_local.ingest.highlight import highlight_handlers
from hl_local.ingest.otlp_http import otlp_http_router
from hl_local.query import live, logs, sessions, suggest, traces
from hl_local.query.common import API_ERRORS, answers
from hl_local.query.errors import error_groups_router
from hl_local.query.responses import ErrorBody, Health, Stats
from hl_local.query.structs import JsonTextSchema
from hl_local.source.frames import Sources
from hl_local.store.db import Store
from hl_local.store.writer import Writer
from hl_local.ui import ui_handlers


@get("/health", sync_to_thread=False)
def health() -> Health:
    return Health("ok", __version__)


@get("/api/stats", exception_handlers=API_ERRORS, responses=answers())
async def stats(request: Request[Any, Any, Any]) -> Stats:
    store: Store = request.app.state.store
    counts = await store.read(lambda cur: store.counts())
    database = str(store.path) if store.path else ":memory:"
    forwarder = request.app.state.get("forwarder")
    return Stats(
        **counts, pending_rows=request.app.state.writer.pending_rows, database=database,
        read_only=store.read_only, forward=forwarder.stats() if forwarder is not None else [],
    )  # fmt: skip


def _read_only(request: Request[Any, Any, Any], exc: ReadOnly) -> Response[ErrorBody]:
    """A change asked of a server opened with --read-only (an error group's state): 503, saying why."""
    return Response(ErrorBody(503, str(exc), None), status_code=503)


def _host_guard(allowed: set[str]) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """Refuse API requests whose Host is not ours: a DNS-rebinding page cannot read telemetry."""

    async def guard(
        request: Request[Any, Any, Any],
    ) -> None:  # async: litestar would run a sync hook in a thread
        if not request.url.path.startswith("/api/"):
            return
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if name.strip("[]") not in allowed:
            raise PermissionDeniedException(f"Host {host!r} is not allowed; open hl-local via localhost")

    return guard


def create_app(store: Store, writer: Writer, settings: Settings, sources: Sources | None = None) -> Litestar:
    state = State(
        {"store": store, "writer": writer, "settings": settings, "forwarder": None, "sources": sources}
    )
    return _litestar(state, {*LOOPBACK_HOSTS, settings.host})


def openapi_document() -> dict[str, Any]:
    """The document /api/schema/openapi.json serves, built without a store (tools/api_types.py)."""
    with warnings.catch_warnings():
        # litestar 2.25 deprecates the inferred parameter style every handler uses (a litestar 3
        # migration); the server warns as usual, the document's builders need not fail on it
        warnings.simplefilter("ignore", LitestarDeprecationWarning)
        return _litestar(State(), set(LOOPBACK_HOSTS)).openapi_schema.to_schema()


def _litestar(state: State, allowed_hosts: set[str]) -> Litestar:
    return Litestar(
        route_handlers=[
            health,
            stats,
            otlp_http_router,
            *highlight_handlers,
            error_groups_router,
            logs.router,
            traces.router,
            sessions.router,
            suggest.router,
            live.live,
            export_api.router,
            *ui_handlers,
        ],
        state=state,
        before_request=_host_guard(allowed_hosts),
        exception_handlers={ReadOnly: _read_only},
        plugins=[JsonTextSchema()],  # JSON text columns: described as the JSON they hold
        # JSON only: litestar's browsable pages load scripts from CDNs, and hl-local makes no
        # outbound connection, not even through the user's browser.
        openapi_config=OpenAPIConfig(
            title="hl-local",
            version=__version__,
            path="/api/schema",
            description="See docs/api.md.",
            render_plugins=[JsonRenderPlugin()],
        ),
        debug=False,
    )
