"""`hl-local import FILE...`: OTLP/JSON lines files (plain or gzip) and hl-local `.duckdb` files, into --db.

    hl-local import collector-output.jsonl.gz              # the Collector file exporter's output
    hl-local import --db team.duckdb bug-1234.duckdb      # a session someone exported

Everything goes through the writer, with live ingest's decoders and de-duplication, so importing a
file twice stores it once (hl_local/imports/ says what de-duplicates, table by table). A line that
cannot be stored is reported with its number (`FILE:LINE: why`) and nothing of it is kept; the rest
goes on, and the exit code is 1 when any line was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hl_local.cli.options import DB, UsageError, add_options, resolve
from hl_local.config import default_db_path

NAME = "import"
HELP = "merge OTLP/JSON lines files (the Collector's file exporter, gzip too) or .duckdb exports into --db"

BAD_LINES_SHOWN = 20  # per file; the count says how many more


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, [DB])
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the files to import")


def run(args: argparse.Namespace) -> int:
    resolve(args, [DB])
    files: list[Path] = [f.expanduser() for f in args.files]
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path} is not a file")
    db: Path = (args.db or default_db_path()).expanduser()
    if any(f.resolve() == db.resolve() for f in files if db.exists()):
        raise UsageError(f"{db} is the database itself: import another file into it")
    return asyncio.run(_import_all(db, files))


async def _import_all(db: Path, files: list[Path]) -> int:
    from hl_local.cli.progress import Progress
    from hl_local.errors import DatabaseLocked, ExportError
    from hl_local.imports import import_file
    from hl_local.store.db import Store
    from hl_local.store.writer import Writer

    try:
        store = Store.open(db)
    except DatabaseLocked as exc:  # its own advice is a server's: say what an import can do
        held = str(exc).split("; ", 1)[0]
        raise ExportError(f"{held}; stop it and import again, or import into another --db") from None
    writer = Writer(store)
    writer.start()
    refused = 0
    try:
        for path in files:
            before = store.counts()
            bar = Progress(f"importing {path.name}")
            try:
                report = await import_file(path, writer, bar.update)
            finally:
                bar.done()
            after = store.counts()
            for number, why in report.bad[:BAD_LINES_SHOWN]:
                print(f"{path}:{number}: {why}" if number else f"{path}: {why}", file=sys.stderr)
            if len(report.bad) > BAD_LINES_SHOWN:
                print(f"{path}: … and {len(report.bad) - BAD_LINES_SHOWN} more refused", file=sys.stderr)
            refused += len(report.bad)
            print(_summary(path, report.kind, report.read, before, after, len(report.bad)))
    finally:
        writer.close()
        store.close()
    return 1 if refused else 0


def _summary(
    path: Path, kind: str, read: dict[str, int], before: dict[str, int], after: dict[str, int], bad: int
) -> str:
    added = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    new = (
        ", ".join(f"{name} +{count}" for name, count in added.items()) or "nothing new (all of it was there)"
    )
    taken = sum(read.values())
    refused = f"; {bad} refused" if bad else ""
    return f"imported {path} ({kind}): {taken} rows read; {new}{refused}"
