"""`hl-local export` while the hl-local holding the file runs: the export is asked of it, over its API.

DuckDB lets one process open a file for writing and nobody else then, not even to read; the running
server can export from its own connection (`GET /api/export`), and this saves what it answers.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from hl_local.errors import ExportError
from hl_local.export import Exported
from hl_local.export.selection import Chosen, Selection

_TIMEOUT_S = 600  # a big export takes a while; the server answers once the file is made


def export_from_server(port: int, selection: Selection, out: Path, fmt: str, force: bool) -> Exported:
    if fmt == "parquet":
        raise ExportError(
            "the database is held by a running hl-local, and only this command writes Parquet: "
            "stop the server, or export .duckdb and convert that"
        )
    if out.exists() and not force:
        raise ExportError(f"{out} already exists; remove it, choose another -o, or pass --force")
    params: list[tuple[str, str]] = [("format", fmt), ("signal", selection.signal)]
    params += [("session", s) for s in selection.sessions] + [("trace", t) for t in selection.traces]
    if selection.query is not None:
        params.append(("query", selection.query))
    for name, value in (("start", selection.start_ns), ("end", selection.end_ns)):
        if value is not None:
            params.append((name, str(value // 1_000_000)))  # the API takes epoch milliseconds
    url = f"http://127.0.0.1:{port}/api/export?{urlencode(params)}"
    started = time.perf_counter()
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as reply, partial.open("wb") as f:
            while chunk := reply.read(1 << 20):
                f.write(chunk)
        partial.replace(out)
    except urllib.error.HTTPError as exc:
        raise ExportError(f"the running hl-local refused the export: {_detail(exc)}") from None
    except OSError as exc:
        raise ExportError(
            f"the database is held by another process, and no hl-local answers on port {port} ({exc}): "
            "stop it, or pass the --port of the hl-local that holds it"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    chosen = Chosen(len(selection.sessions), len(selection.traces), selection.everything)
    return Exported(fmt, out, out.stat().st_size, time.perf_counter() - started, chosen, {})


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["detail"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code}"
