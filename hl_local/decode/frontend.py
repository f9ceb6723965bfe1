"""Browser telemetry that arrives over OTLP, shaped as the browser SDK's own pushes shape it.

LaunchDarkly's observability plugin (which wraps highlight.run) sends what `H.init` puts inside its
pushes as spans instead: each console call is a `launchdarkly.js.log` span with a `log` event
(`log.severity` = the console method, `log.message`, `code.stacktrace`), each error a
`highlight.exception` span whose attributes are the push's error fields (`event`, `type`, `url`,
`source`, `lineNumber`, `columnNumber`, the caller's payload) with an `exception` event. So a
session recorded that way has the same console lines and errors as one recorded by `H.init`.
Resources whose `telemetry.sdk.language` is `webjs` are browsers; `H.init` itself never sends
these two shapes, so nothing is stored twice for it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import msgspec

from hl_local.decode.attributes import json_text
from hl_local.decode.levels import console_level
from hl_local.decode.records import ErrorRow, LogRow
from hl_local.decode.stacks import frames_to_json, parse_stack

if TYPE_CHECKING:
    from hl_local.decode.derived import Origin

WEBJS_RESOURCE = '"telemetry.sdk.language":"webjs"'  # as attributes.py writes it in resource JSON
# OpenTelemetry's web SDK on a server: Highlight's Cloudflare Workers SDK (and the Next.js edge
# runtime's, which is it). Its telemetry is a backend's, whatever its SDK language says.
SERVER_DISTROS = ('"telemetry.distro.name":"@highlight-run/cloudflare"',)


def is_browser(resource_json: str) -> bool:
    """A browser's resource: `telemetry.sdk.language` webjs, and not a server running the web SDK."""
    return WEBJS_RESOURCE in resource_json and not any(d in resource_json for d in SERVER_DISTROS)


# Span attributes of a `highlight.exception` span that are the error itself, not its payload.
_ERROR_SPAN_KEYS = frozenset(
    {"event", "type", "url", "source", "lineNumber", "columnNumber", "highlight.session_id",
     "highlight.trace_id", "highlight.source", "exception.type", "exception.message",
     "exception.stacktrace", "launchdarkly.exception.id"}
)  # fmt: skip
_LOG_KEYS = frozenset({"log.severity", "log.message", "code.stacktrace"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json_text(value)


def unquote(event: str) -> str:
    """The SDK JSON-quotes some error texts ("\\"Uncaught Error: boom\\"", '["a","b"]')."""
    if event[:1] in ('"', "["):
        try:
            value = msgspec.json.decode(event)
        except msgspec.DecodeError:
            return event
        if isinstance(value, str):
            return unquote(value)
        if isinstance(value, list):
            return " ".join(unquote(v) if isinstance(v, str) else json_text(v) for v in value)
    return event


def _int(value: Any) -> int | None:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    return value if isinstance(value, int) and abs(value) < 2**31 else None


def _stack_frames(stack: str) -> list[dict[str, Any]]:
    """`code.stacktrace`: one `fn (file:line:col)` per line, V8's frames without their `at`."""
    lines = [line.strip() for line in stack.splitlines() if line.strip()]
    if lines and not lines[0].startswith("at "):
        stack = "\n".join(f"    at {line}" for line in lines)
    return frames_to_json(parse_stack(stack)[0])


def console_row(origin: Origin, time_ns: int, attributes: dict[str, Any], received_ns: int) -> LogRow:
    """A console line, as `H.init`'s push gives it: severity text is the console method."""
    method = _text(attributes.get("log.severity")) or "log"
    body = _text(attributes.get("log.message"))
    if method == "Error":  # the SDK's own line for an uncaught error: its text JSON-quoted
        body = unquote(body)
    stack = _text(attributes.get("code.stacktrace"))
    frames = _stack_frames(stack) if stack else []
    rest = {k: v for k, v in attributes.items() if k not in _LOG_KEYS and v is not None}
    return LogRow(
        time_ns, time_ns, origin.trace_id, origin.span_id, 0, method, 0, console_level(method), body, "",
        *origin.columns, "frontend", origin.scope_name, origin.scope_version, json_text(rest),
        origin.resource_attributes, json_text(frames) if frames else None, received_ns,
    )  # fmt: skip


def error_row(origin: Origin, time_ns: int, attributes: dict[str, Any], received_ns: int) -> ErrorRow | None:
    """An error, as `H.init`'s push gives it: the span's `event`, `type`, `url`… when it has them."""
    span = origin.span_attributes
    message = unquote(_text(span.get("event"))) or _text(attributes.get("exception.message"))
    kind = _text(span.get("type")) or _text(attributes.get("exception.type"))
    message = message or kind
    if not message:
        return None
    stack = _text(attributes.get("exception.stacktrace"))
    frames = frames_to_json(parse_stack(stack)[0]) if stack else []
    top = frames[0] if frames else {}
    session = _text(attributes.get("highlight.session_id")) or origin.columns[3]
    error_id = (
        _text(attributes.get("launchdarkly.exception.id"))
        or hashlib.sha1(
            "\x1f".join((origin.trace_id, origin.span_id, kind, message, stack)).encode()
        ).hexdigest()
    )
    payload = {k: v for k, v in {**span, **attributes}.items() if k not in _ERROR_SPAN_KEYS}
    line, column = _int(span.get("lineNumber")), _int(span.get("columnNumber"))
    service_name, service_version, environment, _, request, _ = origin.columns
    return ErrorRow(
        error_id, time_ns, "frontend", kind, message, stack, json_text(frames),
        _text(span.get("url")) or origin.url, _text(span.get("source")) or None,
        line if line is not None else top.get("line"), column if column is not None else top.get("column"),
        service_name, service_version, environment, session or None, None, request, origin.trace_id,
        origin.span_id, json_text(payload), received_ns,
    )  # fmt: skip
