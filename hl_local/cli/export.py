"""`hl-local export`: sessions or traces, and everything linked to them, to one file (or a directory).

    hl-local export --session ID -o bug-1234.html            # the replay and its panels, opens anywhere
    hl-local export --session ID -o bug-1234.duckdb          # `hl-local --db bug-1234.duckdb` shows it
    hl-local export --query 'has_errors=true' --start 2026-11-24T09:00:00Z -o errors.duckdb
    hl-local export --format parquet -o warehouse/           # every table, one Parquet file each
    hl-local export --signal traces --query 'service_name=api' -o api.jsonl.gz   # OTLP/JSON lines

The source is opened read-only and never changed. When the hl-local that holds it is running, the
export is asked of it over its API instead (`GET /api/export`), so it works either way.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hl_local.cli.options import DB, Option, UsageError, add_options, port, resolve
from hl_local.config import default_db_path
from hl_local.errors import DatabaseLocked

if TYPE_CHECKING:
    from hl_local.export import Exported
    from hl_local.export.selection import Selection

NAME = "export"
HELP = (
    "write sessions or traces, and everything linked to them, to a .duckdb, .html, Parquet or OTLP/JSON file"
)

SIGNALS = ("sessions", "traces", "logs", "errors")

OPTIONS: list[Option] = [
    DB,
    Option("--output", "where to write: FILE.duckdb, FILE.html, FILE.jsonl[.gz] or a directory for "
           "--format parquet", Path, metavar="OUT", short="-o"),
    Option("--format", "duckdb, html, parquet or otlp-json (default: from the name of OUT)",
           metavar="FORMAT"),
    Option("--session", "a session to take, with everything linked to it (repeatable)", metavar="ID",
           repeat=True),
    Option("--trace", "a trace to take, with its spans, logs and errors (repeatable)", metavar="ID",
           repeat=True),
    Option("--query", "take what this search matches (the search language of the UI)", metavar="Q"),
    Option("--signal", "what --query searches: sessions (default), traces, logs or errors",
           metavar="SIGNAL", default="sessions"),
    Option("--start", "with --query: from this time (ISO 8601 or epoch ms)", metavar="TIME"),
    Option("--end", "with --query: up to this time (ISO 8601 or epoch ms)", metavar="TIME"),
    Option("--force", "replace OUT if it exists", switch=True, default=False),
    Option("--port", "the UI port of a running hl-local that holds --db (default 8082)", port, 8082),
]  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, OPTIONS)


def run(args: argparse.Namespace) -> int:
    resolve(args, OPTIONS)
    if args.output is None:
        raise UsageError("say where to write with -o OUT (FILE.duckdb, FILE.html, FILE.jsonl or a directory)")
    if args.signal not in SIGNALS:
        raise UsageError(f"--signal {args.signal!r} is not one of {', '.join(SIGNALS)}")
    if args.query is None and (args.start or args.end):
        raise UsageError("--start and --end choose what a --query matches: give a --query too ('' for all)")
    from hl_local.export import format_for

    out: Path = args.output.expanduser()
    fmt = format_for(out, args.format)
    db: Path = (args.db or default_db_path()).expanduser()
    selection = _selection(args)
    if fmt == "html" and len(selection.sessions) + len(selection.traces) != 1 and selection.query is None:
        raise UsageError("an HTML export holds one session (or one trace): give one --session ID")
    if sys.stderr.isatty():
        print(f"exporting from {db} as {fmt}…", file=sys.stderr, flush=True)
    try:
        done = asyncio.run(_export_file(db, selection, out, fmt, args.force))
    except DatabaseLocked:
        from hl_local.export.remote import export_from_server

        done = export_from_server(args.port, selection, out, fmt, args.force)
    print(_summary(done))
    return 0


def _selection(args: argparse.Namespace) -> Selection:
    from hl_local.export.selection import Selection

    start_ns, end_ns = _time_ns(args.start, "--start"), _time_ns(args.end, "--end")
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise UsageError("--start is after --end")
    return Selection(args.session, args.trace, args.query, args.signal, start_ns, end_ns)


def _time_ns(value: str | None, flag: str) -> int | None:
    """ISO 8601 or epoch milliseconds, read as the API reads `start` and `end` (query/common.py; not
    imported from there, as that would bring litestar's 0.4 s of imports to every export)."""
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return int(value) * 1_000_000
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} must be ISO 8601 or epoch milliseconds, not {value!r}") from None
    return int(moment.timestamp() * 1_000_000) * 1000


async def _export_file(db: Path, selection: Selection, out: Path, fmt: str, force: bool) -> Exported:
    from hl_local.config import Settings
    from hl_local.export import export
    from hl_local.store.db import Store

    store = Store.open(db, read_only=True)
    try:
        app = None
        if fmt == "html":
            from hl_local.app import create_app
            from hl_local.store.writer import Writer

            app = create_app(store, Writer(store), Settings(db_path=db, read_only=True))
        return await export(store, selection, out, fmt, app=app, force=force)
    finally:
        store.close()


def _summary(done: Exported) -> str:
    size = done.size_bytes
    shown = f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.1f} KiB"
    chosen = done.chosen
    what = (
        "everything"
        if chosen.everything
        else f"{_n(chosen.session_count, 'session')}, {_n(chosen.trace_count, 'trace')}"
    )
    counts = ", ".join(f"{name} {count}" for name, count in done.counts.items() if count)
    where = f"{done.path} ({done.format}, {shown})"
    return f"exported {what} to {where} in {done.seconds:.2f} s: {counts or 'no rows'}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
