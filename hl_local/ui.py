"""The web UI: index.html for every client route, the built assets, and the headers that keep them safe.

The bundle is built from web/ into hl_local/static by the install (hatch_build.py). Files are
read when they change (size and mtime), so `npm --prefix web run watch` is picked up without a
restart; they are small, so they are held in memory and answered with an ETag.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, head
from litestar.exceptions import NotFoundException

STATIC_DIR = Path(str(importlib.resources.files("hl_local") / "static"))

# Scripts only from us; styles inline too (rrweb rebuilds recorded <style> and style attributes
# inside the replay iframe, which inherits this policy); images, fonts and media from anywhere,
# because a replayed page shows the assets of the app that was recorded. The replay iframe is
# sandboxed without allow-scripts on top of this.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline' http: https:",
        "img-src 'self' data: blob: http: https:",
        "font-src 'self' data: http: https:",
        "media-src 'self' data: blob: http: https:",
        "connect-src 'self'",
        "frame-src 'self' blob: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
# `?assets=blocked` on a page: the same policy with nothing loaded from elsewhere, so a replay cannot
# make the browser fetch the URLs its recording names (a hostile page can name any, including
# http://localhost ones). The replay iframe inherits the page's policy, so the browser enforces it.
BLOCKED_ASSETS_POLICY = "; ".join(
    part.replace(" http: https:", "") for part in CONTENT_SECURITY_POLICY.split("; ")
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # recorded asset URLs must not learn where they were viewed
    "cross-origin-opener-policy": "same-origin",
}
CLIENT_ROUTES = [
    "/",
    "/sessions",
    "/sessions/{session_id:str}",
    "/errors",
    "/errors/{group_id:str}",
    "/logs",
    "/traces",
    "/traces/{trace_id:str}",
    "/metrics",
]


@dataclass(frozen=True, slots=True)
class _File:
    stamp: tuple[int, int]  # (mtime_ns, size): reread when either changes
    body: bytes
    etag: str


_cache: dict[Path, _File] = {}


def _read(path: Path) -> _File:
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is None or cached.stamp != stamp:
        body = path.read_bytes()
        cached = _File(stamp, body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')
        _cache[path] = cached
    return cached


def _answer(request: Request[Any, Any, Any], path: Path, media_type: str) -> Response[Any]:
    """The file with its ETag (304 when the client has it); for HEAD the same headers, no body."""
    file = _read(path)
    headers = {**SECURITY_HEADERS, "cache-control": "no-cache", "etag": file.etag}
    if file.etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=headers)
    if request.method == "HEAD":  # litestar leaves both out of a body-less answer
        headers["content-type"] = _with_charset(media_type)
        headers["content-length"] = str(len(file.body))
        return Response(None, headers=headers)
    return Response(file.body, media_type=media_type, headers=headers)


def _with_charset(media_type: str) -> str:
    """The Content-Type as litestar writes it for a body: text/* gets its charset added."""
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


def _media_type(path: Path) -> str:
    """litestar adds `; charset=utf-8` to text/* itself; JavaScript needs it said."""
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return media_type + "; charset=utf-8" if media_type == "application/javascript" else media_type


async def _index(request: Request[Any, Any, Any]) -> Response[Any]:
    page = STATIC_DIR / "index.html"
    if not page.exists():
        message = b"hl-local's UI is not built: run `npm --prefix web ci && npm --prefix web run build`\n"
        if request.method == "HEAD":
            return Response(None, status_code=503, headers={**SECURITY_HEADERS, "content-type": "text/plain"})
        return Response(message, status_code=503, media_type="text/plain", headers=SECURITY_HEADERS)
    response = _answer(request, page, "text/html")
    if request.query_params.get("assets") == "blocked":
        response.headers["content-security-policy"] = BLOCKED_ASSETS_POLICY
    return response


async def _asset(request: Request[Any, Any, Any], name: str) -> Response[Any]:
    path = (STATIC_DIR / name.lstrip("/")).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        raise NotFoundException(f"no such file: /static/{name.lstrip('/')}")
    return _answer(request, path, _media_type(path))


@get(CLIENT_ROUTES, include_in_schema=False)
async def index(request: Request[Any, Any, Any]) -> Response[Any]:
    """Every client-side route gets the same page; the app reads the path and the query."""
    return await _index(request)


@head(CLIENT_ROUTES, include_in_schema=False, name="index-head")
async def index_head(request: Request[Any, Any, Any]) -> Response[None]:
    return await _index(request)


@get("/static/{name:path}", include_in_schema=False)
async def asset(request: Request[Any, Any, Any], name: str) -> Response[Any]:
    return await _asset(request, name)


@head("/static/{name:path}", include_in_schema=False, name="asset-head")
async def asset_head(request: Request[Any, Any, Any], name: str) -> Response[None]:
    return await _asset(request, name)


async def watch_bundle(state: Any, stop: asyncio.Event) -> None:
    """`hl-local --dev`: count rebuilds of the bundle in `state.ui_version` (/api/live tells pages)."""
    import watchfiles  # only in --dev

    STATIC_DIR.mkdir(exist_ok=True)
    async for _changes in watchfiles.awatch(STATIC_DIR, stop_event=stop, debounce=200):
        state.ui_version = state.get("ui_version", 0) + 1


ui_handlers = [index, index_head, asset, asset_head]
