"""Command-line options that can also come from the environment, declared once each.

Every option `--some-name` is also read from `HL_LOCAL_SOME_NAME` when the flag is not given:
flags win over the environment. Parsers get a default of None, and `resolve` fills each option
in after parsing, so a bad environment value is a one-line error naming the variable, and never
breaks `--help`. Options of the running server (`SERVER_OPTIONS`) become `Settings` fields of
the same name; a command that runs a server (`serve`, `run`) adds them all.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hl_local.config import DEFAULT_MAX_AGE, DEFAULT_MAX_SIZE, Settings, default_db_path
from hl_local.source.editor import EDITORS, parse_editor
from hl_local.source.roots import parse_source_root


class UsageError(Exception):
    """A flag or environment value that cannot be used; the CLI prints it as one line, exit 2."""


def env_name(flag: str) -> str:
    return "HL_LOCAL_" + flag.lstrip("-").upper().replace("-", "_")


@dataclass(frozen=True)
class Option:
    """One `--flag` and its `HL_LOCAL_FLAG`.

    `parse` turns text into the value (raising ValueError or argparse.ArgumentTypeError with what
    is wanted); a `switch` takes no value (the environment says 1/true/yes/on); a `repeat` may be
    given several times (the environment separates values with `separator`).
    """

    flag: str
    help: str
    parse: Callable[[str], Any] = str
    default: Any = None
    metavar: str | None = None
    switch: bool = False
    repeat: bool = False
    separator: str = ","
    short: str | None = None  # a one-letter alias (`-o`)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        flags = [self.short, self.flag] if self.short else [self.flag]
        if self.switch:
            help_text = f"{self.help} [env {env_name(self.flag)}=1]"
            parser.add_argument(*flags, action="store_true", default=None, help=help_text)
            return
        parser.add_argument(
            *flags,
            type=self.parse,
            default=None,
            metavar=self.metavar,
            action="append" if self.repeat else "store",
            help=f"{self.help} [env {env_name(self.flag)}]",
        )

    def from_env(self) -> Any:
        """The value of this option's environment variable, or None when it is not set."""
        name = env_name(self.flag)
        text = os.environ.get(name)
        if text is None:
            return None
        if self.switch:
            return text.strip().lower() in ("1", "true", "yes", "on")
        try:
            if self.repeat:
                return [self.parse(part.strip()) for part in text.split(self.separator) if part.strip()]
            return self.parse(text)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            raise UsageError(f"{name}={text!r}: {exc}") from None

    def resolve(self, args: argparse.Namespace) -> None:
        """Fill this option into `args`: the flag, else the environment, else the default."""
        if getattr(args, self.dest, None) is not None:
            return
        value = self.from_env()
        if value is None:
            value = list(self.default or ()) if self.repeat else self.default
        setattr(args, self.dest, value)


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    for option in options:
        option.add_to(parser)


def resolve(args: argparse.Namespace, options: Sequence[Option]) -> None:
    for option in options:
        option.resolve(args)


# ---------------------------------------------------------------- value parsers


def port(value: str) -> int:
    """A TCP port: 0-65535 (the socket layer would raise OverflowError, with a traceback)."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (0-65535; 0 picks a free one)")
    return number


def count(value: str) -> int:
    """A whole number, at least 0."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number")
    return number


_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
               "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4,
               "tib": 1024**4}  # fmt: skip
_AGE_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AMOUNT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")


def size(value: str) -> int:
    """A size in bytes: `4GiB`, `500MB`, `1.5G`, `2000000`; 0 or `none` for no cap."""
    found = _AMOUNT.fullmatch(value)
    unit = _SIZE_UNITS.get(found.group(2).lower()) if found else None
    if value.strip().lower() in ("none", "off"):
        return 0
    if found is None or unit is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size (like 4GiB, 500MB; 0 for no cap)")
    return int(float(found.group(1)) * unit)


def age(value: str) -> int:
    """A duration in whole seconds: `7d`, `12h`, `30m`, `90s`, `2w`; 0 or `none` for no cap."""
    return int(age_s(value))


def age_s(value: str) -> float:
    """A duration in seconds, fractions kept (`1.5s`)."""
    if value.strip().lower() in ("none", "off"):
        return 0.0
    found = _AMOUNT.fullmatch(value)
    unit = _AGE_UNITS.get(found.group(2).lower() or "s") if found else None
    if found is None or unit is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (like 7d, 12h, 30m; 0 for no cap)")
    return float(found.group(1)) * unit


_ORIGIN = re.compile(r"(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?|null")


def origin(value: str) -> str:
    """A web origin as browsers send it: scheme://host[:port] (no path), or `null`."""
    text = value.strip().rstrip("/")
    if not _ORIGIN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{value!r} is not an origin (like http://localhost:3000)")
    return text.lower()


def source_root(value: str) -> str:
    """`FROM=TO` or `DIR`, checked here and kept as given (Settings holds text)."""
    parse_source_root(value)
    return value


def upstream_url(value: str) -> str:
    """An OTLP/HTTP base URL (`http://collector:4318`); the signal paths are appended to it."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL (say http://collector:4318)")
    if parts.path.rstrip("/").endswith(("/v1/traces", "/v1/logs", "/v1/metrics")):
        raise argparse.ArgumentTypeError(f"{value!r}: give the base URL; /v1/traces, /v1/logs and "
                                         "/v1/metrics are appended to it")  # fmt: skip
    return value.strip().rstrip("/")


def header(value: str) -> tuple[str, str]:
    """NAME=VALUE, for a header sent upstream."""
    name, sep, text = value.partition("=")
    name = name.strip()
    if not sep or not name or any(c in name for c in ' \t:()<>@,;\\"/[]?={}'):
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=VALUE (say x-api-key=SECRET)")
    return name, text.strip()


# ---------------------------------------------------------------- the server's options

DB = Option("--db", f"the DuckDB file (default: {default_db_path()})", Path, metavar="PATH")
MEMORY = Option("--memory", "keep everything in memory; nothing is written to disk", switch=True)

SERVER_OPTIONS: list[Option] = [
    Option("--host", "address to listen on (default 127.0.0.1; anything else exposes your telemetry)",
           default="127.0.0.1"),
    Option("--port", "UI, API, /public and OTLP/HTTP (default 8082; 0 picks a free port)", port, 8082),
    Option("--otlp-http-port", "OTLP/HTTP (default 4318)", port, 4318),
    Option("--otlp-grpc-port", "OTLP/gRPC (default 4317)", port, 4317),
    Option("--max-pending-rows", "rows waiting for the writer before ingest answers 503 (default 500000)",
           count, 500_000),
    Option("--decoders", "processes that decode big OTLP requests beside the server, on Linux (default: "
           "one per core beyond the first, at most 4; 0 decodes in the server's own process)", count,
           metavar="N"),
    Option("--max-size", "prune the oldest data past this much on disk (default 4GiB; 0: no cap)",
           size, DEFAULT_MAX_SIZE, metavar="SIZE"),
    Option("--max-age", "prune data received longer ago than this (default 7d; 0: no cap)",
           age, DEFAULT_MAX_AGE, metavar="AGE"),
    Option("--allow-origin", "a web origin whose pages may send telemetry, like http://localhost:3000 "
           "(repeatable; default: any page, as the browser SDK needs)", origin, metavar="ORIGIN",
           repeat=True),
    Option("--no-open", "do not open the UI in a browser", switch=True, default=False),
    Option("--dev", "UI development: reload open pages when the UI bundle changes "
           "(run `npm --prefix web run watch` beside it)", switch=True, default=False),
    Option("--source-root", "show stack frames' source lines from here: FROM=TO maps the paths or URLs "
           "stacks name to a local directory (/app=~/src/app, http://localhost:5173/=web/dist), DIR allows "
           "a directory; repeatable (the working directory counts unless it holds your home directory)",
           source_root, repeat=True, metavar="FROM=TO"),
    Option("--editor", f"frames link to this editor: {', '.join(EDITORS)} (default: the one $VISUAL or "
           "$EDITOR names)", parse_editor, metavar="EDITOR"),
    Option("--fetch-source-maps", "also fetch bundles and source maps from the app's own dev server, on a "
           "loopback address only", switch=True, default=False),
    Option("--quiet", "no line in the terminal per new error group, no summary per minute", switch=True,
           default=False),
    Option("--read-only", "open the database without ever writing to it (ingest answers 503)",
           switch=True, default=False),
    Option("--forward", "also send what arrives over OTLP to this OTLP/HTTP base URL "
           "(http://collector:4318; repeatable)", upstream_url, metavar="URL", repeat=True),
    Option("--forward-header", "a header for the --forward requests, NAME=VALUE (repeatable)",
           header, metavar="NAME=VALUE", repeat=True),
]  # fmt: skip


def add_server_options(parser: argparse.ArgumentParser) -> None:
    add_options(parser, [DB, MEMORY, *SERVER_OPTIONS])


def server_settings(args: argparse.Namespace) -> Settings:
    """Settings from the parsed server options (flags, then HL_LOCAL_*, then defaults)."""
    resolve(args, SERVER_OPTIONS)
    if args.memory and args.db is not None:
        raise UsageError("--memory keeps nothing and --db names a file: give one of them")
    # Flags win over the environment, also across these two: `--db X` beats HL_LOCAL_MEMORY=1.
    db: Path | None = args.db if args.db is not None else DB.from_env()
    memory = bool(args.memory) if args.memory is not None else args.db is None and bool(MEMORY.from_env())
    values = {option.dest: getattr(args, option.dest) for option in SERVER_OPTIONS}
    open_browser = not values.pop("no_open")
    if values["read_only"] and memory:
        raise UsageError("--read-only opens a file and --memory keeps none: give --db PATH with --read-only")
    if values["read_only"] and values["forward"]:
        raise UsageError("--read-only stores nothing, so there is nothing to --forward: give one of them")
    return Settings(
        db_path=db.expanduser() if db else None, memory=memory, open_browser=open_browser, **values
    )
