"""CORS for the ingest endpoints only: browsers post telemetry cross-origin; the API stays same-origin."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

ALLOWED_HEADERS = (
    "content-type, content-encoding, traceparent, tracestate, x-highlight-request, x-highlight-project"
)


def cors_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Echo the page's origin (`null` included: file:// pages and sandboxes send it)."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


def preflight(request: Request[Any, Any, Any]) -> Response[bytes]:
    requested = request.headers.get("access-control-request-headers")
    headers = {
        **cors_headers(request),
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": requested or ALLOWED_HEADERS,
        "access-control-max-age": "86400",
    }
    return Response(b"", status_code=204, headers=headers)
