"""`hl-local tail [logs|errors|spans] [SEARCH]`: follow what a running hl-local receives, in the terminal.

Prints the newest `--lines` matches (oldest first), then follows: each `change` event of /api/live
for the kind makes it fetch what is new (with the same search language as the UI, `docs/search.md`).
New means in the last LATE_S seconds (by the item's own time) and not printed yet: an exporter
that sends its batch a few seconds late is still shown. Errors are followed by
group: a line each time a group gets new occurrences. Colour by level on a terminal, plain lines
when piped. `--db FILE` prints a file's matches and ends (nothing adds to a file while it is read).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from hl_local.cli.client import Api, ApiRefused, Unreachable, add_target_options, api_of
from hl_local.cli.options import Option, UsageError, add_options, count, resolve

NAME = "tail"
HELP = "follow a running hl-local's logs, errors or spans in the terminal (or print a file's)"

LINES = Option(
    "--lines", "how many of the newest matches to print first (default 10)", count, 10, metavar="N"
)
NO_FOLLOW = Option("--no-follow", "print the newest matches and stop", switch=True, default=False)
LATE_S = 30  # how late (by its own timestamp) a line may arrive and still be shown
PAGE = 1000
MAX_PAGES = 10  # per catch-up: past 10,000 new lines a tick, the newest are shown
RETRY_S = 1.0

_COLOURS = {"error": "\033[31m", "warn": "\033[33m", "debug": "\033[2m", "info": ""}
_RESET, _DIM = "\033[0m", "\033[2m"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=("logs", "errors", "spans"), default="logs",
                        help="what to follow (default logs)")  # fmt: skip
    parser.add_argument(
        "search", nargs="*", metavar="SEARCH", help="a search, as in the UI: level=error checkout"
    )
    add_target_options(parser)
    add_options(parser, [LINES, NO_FOLLOW])


def run(args: argparse.Namespace) -> int:
    resolve(args, [LINES, NO_FOLLOW])
    query = " ".join(args.search) or None
    try:
        with api_of(args) as (api, live):
            tail = Tail(api, KINDS[args.what], query, sys.stdout)
            tail.catch_up(initial=args.lines)
            if live and not args.no_follow:
                tail.follow()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error flushing at exit
    except ApiRefused as exc:
        if exc.status == 400:  # the search does not parse: the user's argument
            raise UsageError(str(exc)) from None
        raise
    return 0


@dataclass(frozen=True)
class Kind:
    path: str
    topic: str
    time_of: Callable[[dict[str, Any]], int]  # ns
    key_of: Callable[[dict[str, Any]], object]
    line_of: Callable[[Tail, dict[str, Any]], str]


class Tail:
    def __init__(self, api: Api, kind: Kind, query: str | None, out: TextIO) -> None:
        self.api, self.kind, self.query, self.out = api, kind, query, out
        self.colour = out.isatty()
        self.shown: dict[object, int] = {}  # key → its time, for the last LATE_S
        self.occurrences: dict[str, int] = {}  # errors: group → occurrences printed

    def catch_up(self, initial: int | None = None) -> None:
        """Print what is new (the first time: the newest `initial`, and remember the rest as seen).

        Pages go newest first, back to LATE_S before now, and stop at a page with nothing new.
        """
        start_ms = time.time_ns() // 1_000_000 - LATE_S * 1000
        fresh: list[dict[str, Any]] = []
        cursor = None
        for _ in range(MAX_PAGES):
            page = self.api.get(self.kind.path, query=self.query, start=start_ms, limit=PAGE, cursor=cursor)
            new = [item for item in page["items"] if self._is_new(item)]
            fresh += new
            cursor = page.get("next_cursor")
            if not cursor or not new:
                break
        shown = fresh
        if initial is not None:
            keys = {self.kind.key_of(item) for item in fresh}
            older = self.api.get(self.kind.path, query=self.query, limit=max(1, min(PAGE, initial)))["items"]
            fresh += [item for item in older if self.kind.key_of(item) not in keys]
            shown = sorted(fresh, key=self.kind.time_of)[-initial:] if initial else []
        keep = {id(item) for item in shown}
        for item in sorted(fresh, key=self.kind.time_of):
            if id(item) in keep:
                self.out.write(self.kind.line_of(self, item) + "\n")
            self._remember(item)
        self.out.flush()
        self._forget_before(start_ms * 1_000_000)

    def follow(self) -> None:
        waiting = False
        while True:
            try:
                for topics in self.api.live():
                    if waiting:
                        print(f"hl-local: {self.api.base_url} is back", file=sys.stderr)
                        waiting = False
                    if not topics or self.kind.topic in topics:
                        self.catch_up()
            except Unreachable:
                pass
            if not waiting:
                print(f"hl-local: lost {self.api.base_url}; waiting for it to come back", file=sys.stderr)
                waiting = True
            time.sleep(RETRY_S)

    def _is_new(self, item: dict[str, Any]) -> bool:
        key = self.kind.key_of(item)
        if self.kind.path == "/api/error-groups":
            seen = self.occurrences.get(str(key))
            return seen is None or item["occurrences"] > seen
        return key not in self.shown

    def _remember(self, item: dict[str, Any]) -> None:
        at, key = self.kind.time_of(item), self.kind.key_of(item)
        if self.kind.path == "/api/error-groups":
            self.occurrences[str(key)] = item["occurrences"]
            return
        self.shown[key] = at

    def _forget_before(self, horizon_ns: int) -> None:
        """What is older than the window cannot come again: keep the memory small."""
        if len(self.shown) > PAGE:
            self.shown = {k: t for k, t in self.shown.items() if t >= horizon_ns}

    def paint(self, text: str, level: str) -> str:
        colour = _COLOURS.get(level, "")
        return f"{colour}{text}{_RESET}" if self.colour and colour else text

    def dim(self, text: str) -> str:
        return f"{_DIM}{text}{_RESET}" if self.colour else text


def clock(ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9)) + f".{ns // 1_000_000 % 1000:03d}"


def level_of(level: str) -> str:
    name = (level or "info").lower()
    if name.startswith(("err", "fatal", "crit", "emerg", "alert")):
        return "error"
    if name.startswith("warn"):
        return "warn"
    return "debug" if name in ("debug", "trace", "verbose") else "info"


def _log_line(tail: Tail, log: dict[str, Any]) -> str:
    level = level_of(log["level"])
    body = log["body"].replace("\n", "\n    ")
    service = log["service_name"] or log.get("source") or "-"
    trace = tail.dim(f"  trace={log['trace_id'][:16]}") if log["trace_id"] else ""
    return f"{clock(log['time_ns'])} {tail.paint(f'{level.upper():5}', level)} {service}  {body}{trace}"


def _span_line(tail: Tail, span: dict[str, Any]) -> str:
    failed = span["status_code"] == 2
    status = tail.paint("ERROR", "error") if failed else "ok   "
    duration = f"{span['duration_ns'] / 1e6:,.1f} ms"
    return (f"{clock(span['start_ns'])} {status} {span['service_name'] or '-'}  {span['name']}  {duration}"
            + tail.dim(f"  trace={span['trace_id'][:16]}"))  # fmt: skip


def _error_line(tail: Tail, group: dict[str, Any]) -> str:
    seen = tail.occurrences.get(group["group_id"], 0)
    added = f" (+{group['occurrences'] - seen:,})" if seen else ""
    count_text = f"×{group['occurrences']:,}{added}"  # noqa: RUF001 (a multiplication sign)
    title = " ".join(group["title"].split())
    return (f"{clock(group['last_seen_ns'])} {tail.paint('ERROR', 'error')} {group['service_name'] or '-'}  "
            f"{group['type'] or 'Error'}: {title}  {count_text}"
            + tail.dim(f"  {tail.api.base_url}/errors/{group['group_id']}"))  # fmt: skip


KINDS = {
    "logs": Kind("/api/logs", "logs", lambda i: i["time_ns"],
                 lambda i: (i["time_ns"], i["span_id"], i["service_name"], i["body"]), _log_line),
    "spans": Kind("/api/spans", "traces", lambda i: i["start_ns"],
                  lambda i: (i["trace_id"], i["span_id"]), _span_line),
    "errors": Kind("/api/error-groups", "errors", lambda i: i["last_seen_ns"],
                   lambda i: i["group_id"], _error_line),
}  # fmt: skip
