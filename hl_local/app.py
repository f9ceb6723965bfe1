"""create_app: the one litestar app served on every HTTP socket (UI/API port and OTLP/HTTP port)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import LitestarDeprecationWarning, PermissionDeniedException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from hl_local import __version__
from hl_local.config import LOOPBACK_HOSTS, Settings, host_name
from hl_local.errors import ReadOnly
from hl_local.export import api as export_api
from hl_local.ingest.failures import log_unexpected
from hl_local.ingest.highlight import highlight_handlers
from hl_local.ingest.otlp_http import otlp_http_router
from hl_local.query import error_insights, live, logs, metrics, overview, retention, sessions, suggest, traces
from hl_local.query.common import API_ERRORS, answers
from hl_local.query.errors import error_groups_router
from hl_local.query.responses import ErrorBody, Health, Stats
from hl_local.query.retention import retention_info
from hl_local.query.structs import JsonTextSchema
from hl_local.query.wait import wait_for
from hl_local.source.frames import Sources
from hl_local.store.db import Store
from hl_local.store.writer import Writer
from hl_local.ui import ui_handlers


@get("/health", sync_to_thread=False)
def health() -> Health:
    return Health("ok", __version__, pid=os.getpid())


@get("/api/stats", exception_handlers=API_ERRORS, responses=answers())
async def stats(request: Request[Any, Any, Any]) -> Stats:
    store: Store = request.app.state.store
    writer: Writer = request.app.state.writer
    counts, kept = await store.read(lambda cur: (store.counts(), retention_info(cur, writer.retention)))
    database = str(store.path) if store.path else ":memory:"
    forwarder = request.app.state.get("forwarder")
    return Stats(
        **counts, pending_rows=writer.pending_rows, database=database, read_only=store.read_only,
        forward=forwarder.stats() if forwarder is not None else [], retention=kept,
    )  # fmt: skip


def _read_only(request: Request[Any, Any, Any], exc: ReadOnly) -> Response[ErrorBody]:
    """A change asked of a server opened with --read-only (an error group's state): 503, saying why."""
    return Response(ErrorBody(503, str(exc), None), status_code=503)


def _before_api(allowed: set[str]) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """Refuse API requests whose Host is not ours: a DNS-rebinding page cannot read telemetry.
    Then wait for the errors derived from what was acknowledged before (store/error_writes.py),
    so that what a client sent and was acknowledged is what it reads."""

    async def guard(
        request: Request[Any, Any, Any],
    ) -> None:  # async: litestar would run a sync hook in a thread
        if not request.url.path.startswith("/api/"):
            return
        host = request.headers.get("host", "")
        if host_name(host) not in allowed:
            raise PermissionDeniedException(f"Host {host!r} is not allowed; open hl-local via localhost")
        writer: Writer | None = request.app.state.get("writer")
        if writer is not None:
            await writer.settle()

    return guard


def _unexpected_failure(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Any exception no handler expected: logged once (rate-limited) with its traceback, then a 500."""
    # the route (/api/sessions/{session_id:str}), not the concrete path: one entry per endpoint
    where = f"{request.method} {request.scope.get('path_template') or request.url.path}"
    log_unexpected(exc, where)
    detail = "hl-local failed to answer this request; its log has the details"
    if request.url.path.startswith("/api/"):
        return Response(ErrorBody(500, detail, None), status_code=500)
    return Response(detail + "\n", status_code=500, media_type="text/plain")


def create_app(store: Store, writer: Writer, settings: Settings, sources: Sources | None = None) -> Litestar:
    state = State(
        {"store": store, "writer": writer, "settings": settings, "forwarder": None, "sources": sources}
    )
    return _litestar(state, {*LOOPBACK_HOSTS, settings.host.lower()})


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
            error_insights.router,
            logs.router,
            traces.router,
            sessions.router,
            suggest.router,
            metrics.router,
            overview.router,
            live.live,
            retention.router,
            wait_for,
            export_api.router,
            *ui_handlers,
        ],
        state=state,
        before_request=_before_api(allowed_hosts),
        exception_handlers={HTTP_500_INTERNAL_SERVER_ERROR: _unexpected_failure, ReadOnly: _read_only},
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
