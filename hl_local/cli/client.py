"""The hl-local that a client verb (`tail`, `mcp`) reads: a running one over HTTP, or a file.

Either way the verb talks to the same JSON API (docs/api.md), so a search means what it means in
the UI. A running instance is `--url`, else `http://HOST:PORT` (the serve defaults, from the same
HL_LOCAL_HOST / HL_LOCAL_PORT). A file (`--db`) is opened read-only and served by an in-process
copy of the API on a free loopback port for as long as the verb runs; while a running hl-local holds
the file, DuckDB refuses the open and the message says to follow that instance instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hl_local.cli.options import Option, UsageError, add_options, port, resolve, source_root
from hl_local.errors import DatabaseLocked, HlLocalError

URL = Option("--url", "a running hl-local's UI address (default: http://HOST:PORT)", metavar="URL")
DB = Option("--db", "read this DuckDB file instead of a running hl-local", Path, metavar="PATH")
HOST = Option("--host", "the running hl-local's address (default 127.0.0.1)", default="127.0.0.1")
PORT = Option("--port", "the running hl-local's UI port (default 8082)", port, 8082)
SOURCE_ROOT = Option(
    "--source-root",
    "with --db: also read source lines from here (FROM=TO or DIR, as serve "
    "takes it; the working directory counts too)",
    source_root,
    repeat=True,
    metavar="FROM=TO",
)
TARGET_OPTIONS = [URL, DB, HOST, PORT, SOURCE_ROOT]


class Unreachable(HlLocalError):
    """No hl-local answers where the verb looked."""


class ApiRefused(HlLocalError):
    """The API answered 4xx: the message is its `detail` (a query that does not parse, an unknown id)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def add_target_options(parser: argparse.ArgumentParser) -> None:
    add_options(parser, TARGET_OPTIONS)


class Api:
    """GETs on an hl-local's JSON API; answers as decoded JSON."""

    def __init__(self, base_url: str, timeout_s: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.load(exc).get("detail") or exc.reason
            except (ValueError, AttributeError):
                detail = str(exc.reason)
            raise ApiRefused(exc.code, str(detail)) from None
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            hint = "start one with `hl-local`, or pass --url, --port or --db"
            raise Unreachable(f"no hl-local answers at {self.base_url} ({reason}); {hint}") from None

    def live(self) -> Iterator[list[str]]:
        """[] once connected, then the topics of each `change` event of /api/live (ends with the stream)."""
        request = urllib.request.Request(f"{self.base_url}/api/live", headers={"Accept": "text/event-stream"})
        try:
            response = urllib.request.urlopen(request, timeout=60)  # keep-alives come every 15 s
        except OSError as exc:
            raise Unreachable(f"no hl-local answers at {self.base_url} ({exc})") from None
        with response:
            event = ""
            for raw in response:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "hello":
                        yield []
                elif line.startswith("data:") and event == "change":
                    yield list(json.loads(line[5:]).get("topics", []))
                elif not line:
                    event = ""


@contextlib.contextmanager
def api_of(args: argparse.Namespace) -> Iterator[tuple[Api, bool]]:
    """(the API to read, whether it can change while we read: a file cannot)."""
    resolve(args, TARGET_OPTIONS)
    if args.url and args.db:
        raise UsageError("--url names a running hl-local and --db a file: give one of them")
    if args.db is not None:
        with served_file(args.db.expanduser(), args.source_root) as url:
            yield Api(url), False
        return
    url = args.url or f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    yield Api(url), True


@contextlib.contextmanager
def served_file(path: Path, source_root: list[str] | None = None) -> Iterator[str]:
    """The API over `path` (read-only) on a free loopback port, in this process."""
    import uvicorn
    from litestar.exceptions import LitestarDeprecationWarning

    from hl_local.app import create_app
    from hl_local.config import Settings
    from hl_local.source.frames import Sources
    from hl_local.store.db import Store
    from hl_local.store.writer import Writer

    if not path.exists():
        raise Unreachable(f"{path} does not exist")
    try:
        store = Store.open(path, read_only=True)
    except DatabaseLocked as exc:
        raise Unreachable(f"{exc}; follow the running hl-local instead (--url or --port)") from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sources: Sources | None = None
    try:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        settings = Settings(db_path=path, host="127.0.0.1", port=port, open_browser=False,
                            read_only=True, source_root=source_root or [])  # fmt: skip
        sources = Sources.from_settings(settings)  # the working directory (and --source-root): lines too
        with warnings.catch_warnings():  # litestar deprecates the handlers' parameter style: not the user's
            warnings.simplefilter("ignore", LitestarDeprecationWarning)
            app = create_app(store, Writer(store), settings, sources)  # the writer never starts: no writes
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        app.state.server = server  # (no signal handlers outside the main thread: Ctrl-C stays the verb's)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="hl-local-file", daemon=True
        )
        thread.start()
        try:
            while not server.started and thread.is_alive():
                threading.Event().wait(0.01)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        sock.close()
        if sources is not None:
            sources.close()
        store.close()
