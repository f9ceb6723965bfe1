"""create_app: the one litestar app served on every HTTP socket (UI/API port and OTLP/HTTP port)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from hl_local import __version__
from hl_local.config import LOOPBACK_HOSTS, Settings
from hl_local.ingest.highlight import highlight_handlers
from hl_local.ingest.otlp_http import otlp_http_router
from hl_local.query import live, logs, sessions, suggest, traces
from hl_local.query.errors import error_groups_router
from hl_local.store.db import Store
from hl_local.store.writer import Writer
from hl_local.ui import ui_handlers


@get("/health", sync_to_thread=False)
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@get("/api/stats")
async def stats(request: Request) -> dict[str, Any]:
    store: Store = request.app.state.store
    counts = await store.read(lambda cur: store.counts())
    return {
        **counts,
        "pending_rows": request.app.state.writer.pending_rows,
        "database": str(store.path) if store.path else ":memory:",
    }


def _host_guard(allowed: set[str]) -> Any:
    """Refuse API requests whose Host is not ours: a DNS-rebinding page cannot read telemetry."""

    async def guard(request: Request) -> None:  # async: litestar would run a sync hook in a thread
        if not request.url.path.startswith("/api/"):
            return
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if name.strip("[]") not in allowed:
            raise PermissionDeniedException(f"Host {host!r} is not allowed; open hl-local via localhost")

    return guard


def create_app(store: Store, writer: Writer, settings: Settings) -> Litestar:
    allowed_hosts = {*LOOPBACK_HOSTS, settings.host}
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
            *ui_handlers,
        ],
        state=State({"store": store, "writer": writer, "settings": settings}),
        before_request=_host_guard(allowed_hosts),
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
