"""Log levels: what SDKs write as severity (text or number), and console methods, → one level."""

from __future__ import annotations

_LEVEL_BY_TEXT = {
    "trace": "trace",
    "debug": "debug",
    "info": "info",
    "information": "info",
    "notice": "info",
    "log": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "console.error": "error",
    "window.onerror": "error",
    "fatal": "fatal",
    "critical": "fatal",
    "panic": "fatal",
}
_LEVEL_BY_NUMBER = ("info", "trace", "debug", "info", "warn", "error", "fatal")


def normalise_level(severity_text: str, severity_number: int) -> str:
    """Severity text first (case-insensitive), then OTLP's number ranges, else info."""
    if severity_text:
        level = _LEVEL_BY_TEXT.get(severity_text.strip().lower())
        if level:
            return level
    if 1 <= severity_number <= 24:
        return _LEVEL_BY_NUMBER[(severity_number - 1) // 4 + 1]
    return "info"


def console_level(method: str) -> str:
    """The level of a browser console line, from its console method (or the SDK's own `Error`)."""
    if method in ("Error", "assert"):
        return "error"
    return normalise_level("info" if method in ("count", "dir", "table") else method, 0)
