"""The `hl-local` command: `serve` (the default), `info`, `--version`.

Every option can also come from an environment variable: HL_LOCAL_ plus the option's name in
upper case (`--otlp-grpc-port` ← HL_LOCAL_OTLP_GRPC_PORT). Flags win over the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
import webbrowser
from pathlib import Path

from hl_local import __version__
from hl_local.config import Settings, default_db_path
from hl_local.errors import DatabaseLocked, DatabaseUnusable, HlLocalError


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get("HL_LOCAL_" + name.upper().replace("-", "_"), default)


def _env_flag(name: str) -> bool:
    return (_env(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str, default: int, low: int = 0, high: int | None = None) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        wanted = f"a whole number from {low} to {high}" if high is not None else "a whole number"
        raise SystemExit(f"hl-local: HL_LOCAL_{name.upper().replace('-', '_')}={value!r} is not {wanted}")
    return number


def _port(value: str) -> int:
    """A TCP port for argparse: 0-65535 (the socket layer would raise OverflowError, with a traceback)."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (0-65535; 0 picks a free one)")
    return port


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        default=None,  # None: HL_LOCAL_DB, else the default path (see _settings)
        metavar="PATH",
        help=f"the DuckDB file (default: {default_db_path()})",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        default=None,  # None: HL_LOCAL_MEMORY, unless --db was given (see _settings)
        help="keep everything in memory; nothing is written to disk",
    )
    parser.add_argument(
        "--host",
        default=_env("host", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1; anything else exposes your telemetry)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=_env_int("port", 8082, high=65535),
        help="UI, API, /public and OTLP/HTTP (default 8082; 0 picks a free port)",
    )
    parser.add_argument(
        "--otlp-http-port",
        type=_port,
        default=_env_int("otlp-http-port", 4318, high=65535),
        help="OTLP/HTTP (default 4318)",
    )
    parser.add_argument(
        "--otlp-grpc-port",
        type=_port,
        default=_env_int("otlp-grpc-port", 4317, high=65535),
        help="OTLP/gRPC (default 4317)",
    )
    parser.add_argument(
        "--max-pending-rows",
        type=int,
        default=_env_int("max-pending-rows", 500_000),
        help="rows waiting for the writer before ingest answers 503 (default 500000)",
    )
    parser.add_argument("--no-open", action="store_true", default=_env_flag("no-open"),
                        help="do not open the UI in a browser")  # fmt: skip
    parser.add_argument("--dev", action="store_true", default=_env_flag("dev"),
                        help="UI development: reload open pages when the UI bundle changes "
                             "(run `npm --prefix web run watch` beside it)")  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hl-local",
        description="A local home for Highlight.io SDK and OpenTelemetry data, in one DuckDB file.",
    )
    parser.add_argument("--version", action="version", version=f"hl-local {__version__}")
    sub = parser.add_subparsers(dest="command")
    _add_common(sub.add_parser("serve", help="receive telemetry and serve the UI (the default)"))
    _add_common(sub.add_parser("info", help="print paths, ports and what the database holds"))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    # Flags win over the environment, also across these two: `--db X` beats HL_LOCAL_MEMORY=1.
    env_db = _env("db")
    db = args.db if args.db is not None else (Path(env_db) if env_db else None)
    memory = args.memory if args.memory is not None else (args.db is None and _env_flag("memory"))
    return Settings(
        db_path=db.expanduser() if db else None,
        memory=memory,
        host=args.host,
        port=args.port,
        otlp_http_port=args.otlp_http_port,
        otlp_grpc_port=args.otlp_grpc_port,
        open_browser=not args.no_open,
        max_pending_rows=args.max_pending_rows,
        dev=args.dev,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    settings = _settings(args)
    try:
        if args.command == "info":
            return _info(settings)
        return _serve(settings)
    except HlLocalError as exc:
        print(f"hl-local: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(settings: Settings) -> int:
    from hl_local import runtime  # imported here so `--version` and `info` start fast

    if not settings.is_loopback:
        print(f"hl-local: warning: listening on {settings.host}: anyone who can reach this machine "
              "can read and send telemetry", file=sys.stderr)  # fmt: skip
    runtime.run(settings, on_ready=_open_browser if settings.open_browser else None)
    return 0


def _open_browser(url: str) -> None:
    # Only where a graphical browser can exist: webbrowser would otherwise start a console
    # browser in this very terminal. And only once there is a UI to show (hl_local/static is
    # built into the package with the web UI).
    graphical = (
        sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    has_ui = (Path(__file__).parent / "static" / "index.html").exists()
    if graphical and has_ui and sys.stdout.isatty():
        webbrowser.open(url)


def _info(settings: Settings) -> int:
    import duckdb

    from hl_local.store.db import Store

    path = settings.database
    print(f"hl-local {__version__}")
    print(f"database        {path or ':memory:'}")
    print(f"UI and API      http://{settings.host}:{settings.port}")
    print(f"OTLP/HTTP       http://{settings.host}:{settings.otlp_http_port}")
    print(f"OTLP/gRPC       {settings.host}:{settings.otlp_grpc_port}")
    if path is None:
        return 0
    if not path.exists():
        print("counts          (no database yet)")
        return 0
    try:
        store = Store.open(path, read_only=True)
    except DatabaseLocked:
        counts = _counts_from_server(settings)
        source = "from the running hl-local"
    else:
        try:
            counts, source = store.counts(), "from the file"
        except duckdb.Error as exc:  # a DuckDB file without our tables: not ours, or not finished
            reason = str(exc).splitlines()[0]
            raise DatabaseUnusable(str(path), f"it is not an hl-local database: {reason}") from None
        finally:
            store.close()
    if counts is None:
        print("counts          (the file is held by another process that does not answer on the UI port)")
        return 0
    print(f"counts ({source}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _counts_from_server(settings: Settings) -> dict[str, int] | None:
    url = f"http://{settings.host}:{settings.port}/api/stats"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            stats = json.load(response)
    except OSError:
        return None
    return {k: v for k, v in stats.items() if isinstance(v, int)}
