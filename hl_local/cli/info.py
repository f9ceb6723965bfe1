"""`hl-local info`: paths, ports, what the database holds and keeps (from the file, or the running server)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from hl_local import __version__, instance
from hl_local.cli.options import add_server_options, server_settings
from hl_local.errors import DatabaseLocked, DatabaseUnusable

NAME = "info"
HELP = "print paths, ports, what the database holds and what is kept"


def configure(parser: argparse.ArgumentParser) -> None:
    add_server_options(parser)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from hl_local.store import retention
    from hl_local.store.db import Store

    settings = server_settings(args)
    path = settings.database
    running = instance.running(path)
    host, ports = settings.host, (settings.port, settings.otlp_http_port, settings.otlp_grpc_port)
    if running is not None:  # the ports it really listens on, not the defaults
        host, ports = running.host, (running.port, running.otlp_http_port, running.otlp_grpc_port)
    print(f"hl-local {__version__}" + (f" (running, pid {running.pid})" if running else ""))
    print(f"database        {path or ':memory:'}")
    print(f"UI and API      http://{host}:{ports[0]}")
    print(f"OTLP/HTTP       http://{host}:{ports[1]}")
    print(f"OTLP/gRPC       {host}:{ports[2]}")
    if path is None:
        return 0
    if not path.exists():
        print("counts          (no database yet)")
        return 0
    kept: dict[str, Any] = {"max_size_bytes": settings.max_size, "max_age_s": settings.max_age}
    try:
        store = Store.open(path, read_only=True)
    except DatabaseLocked:
        stats = _stats_from_server(running.ui_url if running else f"http://{host}:{ports[0]}")
        counts = {k: v for k, v in stats.items() if isinstance(v, int)} if stats else None
        kept = stats.get("retention", kept) if stats else kept
        source = "from the running hl-local"
    else:
        try:
            cur = store.cursor()
            counts, source = store.counts(), "from the file"
            kept = {**kept, "oldest_received_ns": retention.oldest_ns(cur)}
        except duckdb.Error as exc:  # a DuckDB file without our tables: not ours, or not finished
            reason = str(exc).splitlines()[0]
            raise DatabaseUnusable(str(path), f"it is not an hl-local database: {reason}") from None
        finally:
            store.close()
    if counts is None:
        print("counts          (the file is held by another process that does not answer on the UI port)")
        return 0
    print(f"counts ({source}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    on_disk = _bytes(kept.get("file_bytes") or retention.file_bytes(path) or 0)
    print(f"on disk         {on_disk} (cap {_cap_bytes(kept['max_size_bytes'])})")
    print(f"oldest item     {_moment(kept.get('oldest_received_ns'))} (kept {_cap_age(kept['max_age_s'])})")
    return 0


def _stats_from_server(url: str) -> dict[str, Any] | None:
    import urllib.request  # here: ~40 % of the CLI's import time, for a rare path

    try:
        with urllib.request.urlopen(f"{url}/api/stats", timeout=2) as response:
            stats: dict[str, Any] = json.load(response)
    except OSError:
        return None
    return stats


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _cap_bytes(n: int) -> str:
    return _bytes(n) if n else "none"


def _cap_age(seconds: int) -> str:
    if not seconds:
        return "for good"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _moment(ns: int | None) -> str:
    if ns is None:
        return "(none)"
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="seconds")
