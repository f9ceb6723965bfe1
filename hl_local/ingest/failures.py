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
import time
from typing import NamedTuple

import grpc

from hl_local.errors import (
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
            log.info("%s -> %d: %s", where, http_status, exc)
            return Answer(http_status, grpc_code, graphql_code, str(exc), retry)
    _log_unexpected(exc, where)
    return Answer(
        500, grpc.StatusCode.INTERNAL, "INTERNAL_SERVER_ERROR", "hl-local failed to take the request"
    )


_REPEAT_WINDOW_S = 60.0
_last_logged: dict[tuple[str, str, str], float] = {}
_suppressed: dict[tuple[str, str, str], int] = {}


def _log_unexpected(exc: Exception, where: str) -> None:
    """Log a failure hl-local did not expect, with its traceback; the same one at most once a minute."""
    key = (where, type(exc).__name__, str(exc)[:200])
    now = time.monotonic()
    last = _last_logged.get(key)
    if last is not None and now - last < _REPEAT_WINDOW_S:
        _suppressed[key] = _suppressed.get(key, 0) + 1
        return
    repeats = _suppressed.pop(key, 0)
    _last_logged[key] = now
    if len(_last_logged) > 1000:  # a flood of distinct failures must not grow this without bound
        _last_logged.clear()
    also = f" (and {repeats} times more in the last minute)" if repeats else ""
    log.error("%s failed unexpectedly%s", where, also, exc_info=exc)
