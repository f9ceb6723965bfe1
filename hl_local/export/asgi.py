"""GET requests to the litestar app in-process (no socket): what an HTML export is made of.

The page an export holds shows exactly what the UI shows, so its data are the API's own answers,
asked of the same app the server runs, over ASGI directly. Its Host guard sees a loopback name.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar

from hl_local.errors import ExportError
from hl_local.query.common import FOR_EXPORT


async def get(app: Litestar, path: str, **params: Any) -> bytes:
    """The body of `GET path?params`; anything but a 200 is an ExportError with the API's detail."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode({k: v for k, v in params.items() if v is not None}, doseq=True).encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
        "state": {FOR_EXPORT: True},  # no source lines from this machine in a file (query/common.py)
    }
    status = 0
    body: list[bytes] = []
    asked = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client never hangs up before the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    await app(scope, receive, send)  # type: ignore[arg-type]  # plain dicts are what ASGI passes
    data = b"".join(body)
    if status != 200:
        raise ExportError(f"GET {path} answered {status}: {data[:300].decode(errors='replace')}")
    return data
