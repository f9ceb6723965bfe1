"""`GET /api/export`: an export as a download (the UI's Export buttons; `hl-local export` while running).

Takes what `hl-local export` takes (`session` and `trace` repeatable, `query`, `signal`, `start`,
`end`) and a `format` (duckdb, html or otlp-json; Parquet writes a directory, so it is the
command's only). The file is made in a temporary folder, sent, and removed once sent.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.response import File

from hl_local.errors import ExportError
from hl_local.export import export
from hl_local.export.selection import SIGNAL_NAMES, NoSuchItem, Selection
from hl_local.query.common import API_ERRORS, Query, answers, bad_request, time_ns

MEDIA_TYPES = {
    "duckdb": "application/vnd.duckdb",
    "html": "text/html; charset=utf-8",
    "otlp-json": "application/x-ndjson",
}
SUFFIXES = {"duckdb": ".duckdb", "html": ".html", "otlp-json": ".jsonl"}

_FILE = ResponseSpec(
    bytes,
    media_type="application/octet-stream",
    description="the export, as an attachment: a .duckdb database, a self-contained .html page, or "
    "OTLP/JSON lines (see docs/export.md)",
    generate_examples=False,
)


@get("/export", responses={200: _FILE, **answers(400, 404)})
async def export_download(
    request: Request[Any, Any, Any],
    format: str = "duckdb",
    session: list[str] | None = None,
    trace: list[str] | None = None,
    search: Query = None,
    signal: str = "sessions",
    start: str | None = None,
    end: str | None = None,
) -> File:
    """The chosen sessions and traces, with everything linked to them, as a file to download."""
    if format not in MEDIA_TYPES:
        raise bad_request(f"format must be one of {', '.join(MEDIA_TYPES)} (parquet: use `hl-local export`)")
    if signal not in SIGNAL_NAMES:
        raise bad_request(f"signal must be one of {', '.join(SIGNAL_NAMES)}")
    selection = Selection(
        session or (), trace or (), search, signal, time_ns(start, "start"), time_ns(end, "end")
    )
    folder = Path(tempfile.mkdtemp(prefix="hl-local-export-"))
    out = folder / _file_name(selection, format)
    try:
        await export(request.app.state.store, selection, out, format, app=request.app)
    except NoSuchItem as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise NotFoundException(str(exc)) from None
    except ExportError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise bad_request(str(exc)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return File(
        out,
        filename=out.name,
        media_type=MEDIA_TYPES[format],
        content_disposition_type="attachment",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def _file_name(selection: Selection, fmt: str) -> str:
    if len(selection.sessions) == 1 and not selection.traces:
        stem = f"hl-local-session-{selection.sessions[0]}"
    elif len(selection.traces) == 1 and not selection.sessions:
        stem = f"hl-local-trace-{selection.traces[0]}"
    else:
        stem = "hl-local-export"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:120]
    return safe + SUFFIXES[fmt]


router = Router(path="/api", route_handlers=[export_download], exception_handlers=API_ERRORS)
