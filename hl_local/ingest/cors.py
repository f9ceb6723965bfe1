"""CORS for the ingest endpoints only: browsers post telemetry cross-origin; the API stays same-origin."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

ALLOWED_HEADERS = (
    "content-type, content-encoding, traceparent, tracestate, x-highlight-request, x-highlight-project"
)


def origin_allowed(request: Request[Any, Any, Any]) -> bool:
    """Whether the page sending this may (`--allow-origin`; none given: any page, as the SDK needs).
    Requests without an Origin are not from a web page (backend SDKs, curl) and are always taken."""
    origin = request.headers.get("origin")
    allowed: list[str] = request.app.state.settings.allow_origin if "settings" in request.app.state else []
    return origin is None or not allowed or origin.lower() in allowed


def refused_origin(request: Request[Any, Any, Any]) -> Response[bytes]:
    """403, without CORS headers: the page's script cannot even read why."""
    message = (
        f"pages of {request.headers.get('origin')} may not send telemetry here (hl-local --allow-origin)"
    )
    return Response(message.encode(), status_code=403, media_type="text/plain")


def cors_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Echo the page's origin (`null` included: file:// pages and sandboxes send it)."""
    origin = request.headers.get("origin")
    if origin is None or not origin_allowed(request):
        return {}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


def preflight(request: Request[Any, Any, Any]) -> Response[bytes]:
    if not origin_allowed(request):
        return refused_origin(request)
    requested = request.headers.get("access-control-request-headers")
    headers = {
        **cors_headers(request),
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": requested or ALLOWED_HEADERS,
        "access-control-max-age": "86400",
    }
    return Response(b"", status_code=204, headers=headers)
