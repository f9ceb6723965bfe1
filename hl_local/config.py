"""Settings: one Struct, from command-line flags or HL_LOCAL_* environment variables."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import platformdirs

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Retention defaults. 4 GiB: about 13M spans, or 3,000 hours of replay (0.023 MiB a session-minute),
# while leaving a laptop's disk alone; a week: what a developer looks back on.
DEFAULT_MAX_SIZE = 4 * 1024**3
DEFAULT_MAX_AGE = 7 * 86400


# RFC 9110 Host: uri-host [":" port], uri-host an IP literal in brackets, IPv4 or a registered name.
_HOST = re.compile(r"\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._~-]+)")
_PORT = re.compile(r"(?::[0-9]{0,5})?")


def host_name(header: str) -> str | None:
    """The host of a Host header, lower-cased; None when the header is not a valid Host at all.

    A header like `127.0.0.1:8082@evil.example` is not a Host, so it names no host (a split at
    the last colon would have taken it for 127.0.0.1).
    """
    found = _HOST.match(header)
    if found is None or not _PORT.fullmatch(header, found.end()):
        return None
    return (found.group("ip6") or found.group("name")).lower()


def default_db_path() -> Path:
    return platformdirs.user_data_path("hl-local") / "hl-local.duckdb"


class Settings(msgspec.Struct, kw_only=True):
    db_path: Path | None = None  # None with memory=False means the default path
    memory: bool = False
    host: str = "127.0.0.1"
    port: int = 8082  # UI, API, /public, and OTLP/HTTP too
    otlp_http_port: int = 4318
    otlp_grpc_port: int = 4317
    open_browser: bool = True
    max_pending_rows: int = 500_000  # rows decoded but not yet committed; past this, ingest answers 503
    decoders: int | None = None  # processes decoding big OTLP bodies; None: one per core beyond the first
    dev: bool = False  # reload open UI pages when the bundle in hl_local/static changes
    max_size: int = DEFAULT_MAX_SIZE  # bytes of data kept (store/retention.py); 0: no cap
    max_age: int = DEFAULT_MAX_AGE  # seconds data is kept after it is received; 0: no cap
    allow_origin: list[str] = msgspec.field(
        default_factory=list
    )  # pages that may send (ingest CORS); none: any
    source_root: list[str] = []  # --source-root FROM=TO or DIR, as given (hl_local/source/roots.py)
    editor: str | None = None  # vscode, cursor, idea, zed, file; None: from $VISUAL/$EDITOR
    fetch_source_maps: bool = False  # ask the app's dev server (loopback only) for bundles and maps
    quiet: bool = False  # no terminal line per new error group, no summary per minute
    read_only: bool = False  # open the file without ever writing to it; ingest answers 503
    forward: list[str] = []  # OTLP/HTTP base URLs to send everything received over OTLP on to
    forward_header: list[tuple[str, str]] = []  # (name, value) headers for every forward request

    @property
    def database(self) -> Path | None:
        """The file to open; None for an in-memory database."""
        if self.memory:
            return None
        return self.db_path or default_db_path()

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
