"""The one mapping from why a request was not stored to what each ingest protocol answers.

OTLP/HTTP, OTLP/gRPC and `/public` all answer through `answer_for`, so the three cannot disagree
on a status. Exporters retry 503 / UNAVAILABLE (with the Retry-After / RetryInfo delay) and give
up on the rest, so only a saturated writer answers 503 with a delay; a read-only server answers
503 without one, its message saying why (exporters retry it a few times, then give up). An
exception hl-local did not expect is a 500: it is logged with its traceback, and the same failure
at most once a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

import grpc

from hl_local.errors import (
    BodyTimeout,
    BodyTooLarge,
    DecodeError,
    IngestError,
    Overloaded,
    ReadOnly,
    UnsupportedMedia,
    WriteFailed,
)

log = logging.getLogger(__name__)


class Answer(NamedTuple):
    """What to tell the client, in each protocol's terms."""

    http_status: int
    grpc_code: grpc.StatusCode
    graphql_code: str  # `extensions.code` of a /public error
    message: str
    retry_after_s: int | None = None


# Most specific first: RowsRejected is a DecodeError.
_STATUS: tuple[tuple[type[IngestError], int, grpc.StatusCode, str], ...] = (
    (DecodeError, 400, grpc.StatusCode.INVALID_ARGUMENT, "BAD_USER_INPUT"),
    (BodyTooLarge, 413, grpc.StatusCode.RESOURCE_EXHAUSTED, "BAD_REQUEST"),
    (BodyTimeout, 408, grpc.StatusCode.DEADLINE_EXCEEDED, "BAD_REQUEST"),
    (UnsupportedMedia, 415, grpc.StatusCode.INVALID_ARGUMENT, "BAD_REQUEST"),
    (Overloaded, 503, grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
    (ReadOnly, 503, grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
    (WriteFailed, 500, grpc.StatusCode.INTERNAL, "INTERNAL_SERVER_ERROR"),
)


def answer_for(exc: Exception, where: str) -> Answer:
    """The answer to a request that failed with `exc`; `where` names the endpoint for the log."""
    for kind, http_status, grpc_code, graphql_code in _STATUS:
        if isinstance(exc, kind):
            retry = exc.retry_after_s if isinstance(exc, Overloaded) else None
            _log_refused(exc, where, http_status)
            return Answer(http_status, grpc_code, graphql_code, str(exc), retry)
    log_unexpected(exc, where)
    return Answer(
        500, grpc.StatusCode.INTERNAL, "INTERNAL_SERVER_ERROR", "hl-local failed to take the request"
    )


_REPEAT_WINDOW_S = 60.0
_MAX_LOGGED_PER_WINDOW = 10  # distinct lines per minute and kind; the rest are counted


class _OncePerMinute:
    """Lets a line through once a minute per key, and at most 10 keys a minute; counts the rest.

    A flood (181,000 failing requests in 10 s) then logs a handful of lines and their counts.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._last_logged: dict[tuple[str, ...], float] = {}
        self._repeats: dict[tuple[str, ...], int] = {}
        self._window_start = 0.0
        self._logged_in_window = 0
        self._dropped_in_window = 0

    def allow(self, key: tuple[str, ...]) -> int | None:
        """None to stay quiet; else how many times this key was kept quiet since it was last logged."""
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= _REPEAT_WINDOW_S:
                dropped, self._dropped_in_window = self._dropped_in_window, 0
                self._window_start, self._logged_in_window = now, 0
                if dropped:
                    log.warning("%d more %s in the last minute were not logged", dropped, self._what)
            last = self._last_logged.get(key)
            if last is not None and now - last < _REPEAT_WINDOW_S:
                self._repeats[key] = self._repeats.get(key, 0) + 1
                return None
            if self._logged_in_window >= _MAX_LOGGED_PER_WINDOW:
                self._dropped_in_window += 1
                return None
            self._logged_in_window += 1
            if len(self._last_logged) > 1000:  # a flood of distinct keys must not grow this without bound
                self._last_logged.clear()
            self._last_logged[key] = now
            return self._repeats.pop(key, 0)


def _raised_at(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else str(exc)[:200]


def _also(repeats: int) -> str:
    return f" (and {repeats} times more since it was last logged)" if repeats else ""


_unexpected = _OncePerMinute("unexpected failures")
_refused = _OncePerMinute("refused requests")


def log_unexpected(exc: BaseException, where: str) -> None:
    """Log a failure hl-local did not expect, with its traceback; the same one at most once a minute.

    "The same" is raised at the same place for the same endpoint, whatever its message says (a
    message often carries the bad value, which would make each one new). The one place every
    unexpected failure is logged: ingest (answer_for), the API and the UI (app.py's handler for
    500), the writer thread (retention, maintenance).
    """
    repeats = _unexpected.allow((where, type(exc).__name__, _raised_at(exc)))
    if repeats is not None:
        log.error("%s failed unexpectedly%s", where, _also(repeats), exc_info=exc)


def _log_refused(exc: IngestError, where: str, http_status: int) -> None:
    repeats = _refused.allow((where, str(http_status)))
    if repeats is not None:
        log.info("%s -> %d: %s%s", where, http_status, exc, _also(repeats))
