"""Exports: the chosen sessions and traces and everything linked to them, in one of four formats.

- `duckdb` (duckdb_file.py): a new hl-local database holding the selection; `hl-local --db OUT`
  shows it linked as the source showed it.
- `html` (html.py): one self-contained page: the replay, its panels and the linked traces.
- `parquet` (parquet.py): a directory with one Parquet file per table.
- `otlp-json` (otlp_json.py): the OpenTelemetry Collector file exporter's format, one
  Export…ServiceRequest per line (spans, logs, metric points; gzip when the name ends in .gz).

What is taken is export/selection.py's business. Every format is written beside its target under
a temporary name and renamed into place at the end, so a failed or interrupted export leaves no
half-written file behind, and never replaces a file unless asked to.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hl_local.errors import ExportError
from hl_local.export.selection import Chosen, Selection

if TYPE_CHECKING:
    from litestar import Litestar

    from hl_local.store.db import Store

FORMATS: Final = ("duckdb", "html", "parquet", "otlp-json")
_SUFFIXES: Final = {
    ".duckdb": "duckdb", ".db": "duckdb", ".html": "html", ".htm": "html", ".parquet": "parquet",
    ".jsonl": "otlp-json", ".json": "otlp-json", ".jsonl.gz": "otlp-json", ".json.gz": "otlp-json",
}  # fmt: skip


@dataclass
class Exported:
    format: str
    path: Path
    size_bytes: int
    seconds: float
    chosen: Chosen
    counts: dict[str, int]  # table (or OTLP signal) → rows written


def format_for(out: Path, given: str | None) -> str:
    """The format asked for, else the one the output's name says."""
    if given is not None:
        if given not in FORMATS:
            raise ExportError(f"--format {given!r} is not one of {', '.join(FORMATS)}")
        return given
    name = out.name.lower()
    for suffix, fmt in sorted(_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return fmt
    raise ExportError(f"cannot tell the format from {out.name!r}: name it .duckdb, .html or .jsonl, "
                      "or say --format (parquet writes a directory)")  # fmt: skip


async def export(
    store: Store,
    selection: Selection,
    out: Path,
    fmt: str,
    *,
    app: Litestar | None = None,
    force: bool = False,
) -> Exported:
    """Write `selection` of `store` to `out` as `fmt`. `app` serves the API for an HTML page."""
    if out.exists() and not force:
        raise ExportError(f"{out} already exists; remove it, choose another -o, or pass --force")
    started = time.perf_counter()
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    _remove(partial)
    try:
        gzipped = out.name.lower().endswith(".gz")
        chosen, counts = await _write(store, selection, partial, fmt, app, gzipped)
        _remove(out)
        partial.replace(out)
    finally:
        _remove(partial)
    return Exported(fmt, out, _size(out), time.perf_counter() - started, chosen, counts)


async def _write(
    store: Store, selection: Selection, partial: Path, fmt: str, app: Litestar | None, gzipped: bool
) -> tuple[Chosen, dict[str, int]]:
    if fmt == "duckdb":
        from hl_local.export.duckdb_file import write_duckdb

        return await store.read(lambda cur: write_duckdb(cur, selection, partial))
    if fmt == "parquet":
        from hl_local.export.parquet import write_parquet

        return await store.read(lambda cur: write_parquet(cur, selection, partial))
    if fmt == "otlp-json":
        from hl_local.export.otlp_json import write_otlp_json

        return await store.read(lambda cur: write_otlp_json(cur, selection, partial, gzipped))
    from hl_local.export.html import write_html

    if app is None:
        raise ExportError("an HTML export needs the API (internal: no app given)")
    return await write_html(app, store, selection, partial)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.unlink()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size
