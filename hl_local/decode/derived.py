"""What Highlight's backend derives from OTLP, so SDK users see what they expect.

- A span event named `exception` is an error, and also an ERROR log line (message as body).
- A span event named `log` (highlight-go's logrus hook, highlight-ruby) is a log line.
- A span event named `feature_flag` / `feature_flag.evaluation` is a flag evaluation (flags.py).
- A browser's (`webjs`) `log` and `exception` events are its console lines and errors, shaped as
  the browser SDK's pushes shape them (frontend.py), without Highlight's ERROR log line.
- An error's payload is its resource's, span's and event's attributes merged, the event's winning
  (so `H.consumeError(err, msg, payload)` in Node shows the request id its span carries).
- A log record with `exception.type` or `exception.message` is also an error; a lone
  `exception.stacktrace` is not (the Node SDK puts one on every log record).
- Identical exception events on one span (Flask reports a crash twice) are one error: the
  error id hashes trace, span, type, message and stack. Errors from log records also hash
  their time, since two records are two occurrences. An exception's log line is written only
  with a new error, so a resent batch adds neither twice.
- Frame 0 is where the error is: the frame of a `traceback.format_stack()` call (highlight-io's
  `record_http_error` takes its stack inside itself) is dropped, as Highlight's parser drops it.
Error groups are assigned later, by the writer (store/grouping.py), which knows the groups.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from hl_local.decode import frontend
from hl_local.decode.attributes import json_text
from hl_local.decode.flags import FLAG_EVENTS, flag_row
from hl_local.decode.levels import normalise_level
from hl_local.decode.records import ErrorLog, ErrorRow, FlagEvaluationRow, LogRow
from hl_local.decode.stacks import Frame, frames_to_json, parse_stack

_URL_KEYS = ("URL", "url.full", "http.url", "http.target")
# The keys an error is made of; the rest is its payload, as in Highlight. So `exception.detail`
# (the message highlight-io gives `logging.exception(...)`) and `exception.escaped` are kept.
_ERROR_KEYS = frozenset({"exception.type", "exception.message", "exception.stacktrace"})
# A Python source line that takes the call stack (`traceback.format_stack()` and its kin).
_CAPTURE = re.compile(r"\b(?:traceback\.)?(?:format|extract|print)_stack\(")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json_text(value)


def _error_id(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an item came from: the columns its derived rows share with it."""

    trace_id: str
    span_id: str
    columns: tuple[str, str, str, str | None, str | None, str | None]  # service … project_id
    source: str | None
    scope_name: str
    scope_version: str
    resource_attributes: str
    url: str | None = None
    span_name: str = ""
    span_attributes: dict[str, Any] = field(default_factory=dict)  # of the span, or {} for a log record
    frontend: bool = False  # a browser's telemetry (telemetry.sdk.language = webjs)


@dataclass
class Derived:
    received_ns: int
    logs: list[LogRow] = field(default_factory=list)
    errors: list[ErrorRow] = field(default_factory=list)
    error_logs: list[ErrorLog] = field(default_factory=list)
    flags: list[FlagEvaluationRow] = field(default_factory=list)

    def span_event(
        self, origin: Origin, name: str, index: int, time_ns: int, attributes: dict[str, Any]
    ) -> None:
        if name == "exception":
            self._exception_event(origin, time_ns, attributes)
        elif name == "log" and origin.frontend:
            self.logs.append(frontend.console_row(origin, time_ns, attributes, self.received_ns))
        elif name == "log":
            level = _text(attributes.get("log.severity")) or "info"
            body = _text(attributes.get("log.message") or attributes.get("message"))
            self.logs.append(_log_row(origin, time_ns, level, body, attributes, None, self.received_ns))
        elif name in FLAG_EVENTS and (flag := flag_row(origin, index, time_ns, attributes, self.received_ns)):
            self.flags.append(flag)

    def _exception_event(self, origin: Origin, time_ns: int, attributes: dict[str, Any]) -> None:
        if origin.frontend:  # a browser error: no log line (H.init's pushes make none either)
            if (
                frontend_error := frontend.error_row(origin, time_ns, attributes, self.received_ns)
            ) is not None:
                self.errors.append(frontend_error)
            return
        error = _error(origin, time_ns, attributes, self.received_ns, with_time=False)
        if error is None:
            return
        self.errors.append(error)
        # the ERROR log line Highlight makes of it: body = the exception message
        log = _log_row(origin, time_ns, "ERROR", error.message, attributes, error.frames, self.received_ns)
        self.error_logs.append(ErrorLog(error.error_id, log))

    def log_record(self, origin: Origin, time_ns: int, attributes: dict[str, Any]) -> None:
        if attributes.get("exception.type") or attributes.get("exception.message"):
            error = _error(origin, time_ns, attributes, self.received_ns, with_time=True)
            if error is not None:
                self.errors.append(error)


def _error(
    origin: Origin, time_ns: int, attributes: dict[str, Any], received_ns: int, with_time: bool
) -> ErrorRow | None:
    kind = _text(attributes.get("exception.type"))
    message = _text(attributes.get("exception.message")) or kind
    if not message:
        return None  # Highlight needs a message to group an error; nothing to show either
    stack = _text(attributes.get("exception.stacktrace"))
    frames = _without_capture(parse_stack(stack)[0])
    top = frames[0] if frames else None
    session = _text(attributes.get("highlight.session_id")) or origin.columns[3]
    request = _text(attributes.get("highlight.trace_id")) or origin.columns[4]
    merged = {**_resource_attributes(origin), **origin.span_attributes, **attributes}
    payload = {k: v for k, v in merged.items() if k not in _ERROR_KEYS}
    url = next((_text(attributes[k]) for k in _URL_KEYS if attributes.get(k)), origin.url)
    identity = (origin.trace_id, origin.span_id, kind, message, stack) + ((time_ns,) if with_time else ())
    service_name, service_version, environment, _, _, _ = origin.columns
    return ErrorRow(
        _error_id(*identity),
        time_ns,
        origin.source if origin.source == "frontend" else "backend",
        kind,
        message,
        stack,
        json_text(frames_to_json(frames)),
        url,
        None,
        top.line if top else None,
        top.column if top else None,
        service_name,
        service_version,
        environment,
        session or None,
        None,
        request or None,
        origin.trace_id,
        origin.span_id,
        json_text(payload),
        received_ns,
    )


def _resource_attributes(origin: Origin) -> dict[str, Any]:
    return _decoded_resource(origin.resource_attributes)


@functools.lru_cache(maxsize=256)
def _decoded_resource(text: str) -> dict[str, Any]:
    """A resource's attributes (one per service, repeated on every request): decoded once, read only."""
    decoded = msgspec.json.decode(text)
    return decoded if isinstance(decoded, dict) else {}


def _without_capture(frames: list[Frame]) -> list[Frame]:
    """The frames from the error site on: without the frame that only captured the call stack.

    highlight-io's `record_http_error` sends `traceback.format_stack()` taken inside itself, so its
    first frame is the SDK's own line, the same for every HTTP error: as frame 0 it would group
    them all together (two details from one handler share the top frame and the callers). Frame 0
    is the caller, as in Highlight, whose parser loses that deepest frame.
    """
    start = 0
    while start < len(frames) - 1 and _CAPTURE.search(frames[start].source or ""):
        start += 1
    return frames[start:]


def _log_row(
    origin: Origin,
    time_ns: int,
    severity: str,
    body: str,
    attributes: dict[str, Any],
    frames: str | None,
    received_ns: int,
) -> LogRow:
    return LogRow(
        time_ns,
        time_ns,
        origin.trace_id,
        origin.span_id,
        0,
        severity,
        0,
        normalise_level(severity, 0),
        body,
        "",
        *origin.columns,
        origin.source,
        origin.scope_name,
        origin.scope_version,
        json_text(attributes),
        origin.resource_attributes,
        frames,
        received_ns,
    )
