"""/api/traces endpoints (being written)."""

from __future__ import annotations

from litestar import Router

router = Router(path="/api", route_handlers=[])
