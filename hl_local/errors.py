"""The exceptions hl-local raises on purpose, each with a message that says what to do next.

HlLocalError                  start-up problems the CLI prints as one line (exit code 1)
├── PortInUse                 a listener could not bind its port
├── DatabaseLocked            another process (usually another hl-local) holds the DuckDB file
├── DatabaseUnusable          the path cannot be created, opened or written
└── SchemaMismatch            the file was written by an incompatible hl-local version
RowsRejected                  decoded values that do not fit their columns: a 400, like bad input
Overloaded                    the writer's queue is full: answer 503 / UNAVAILABLE, never drop
WriteFailed                   a commit failed: the request is answered 500 and nothing of it is kept
"""

from __future__ import annotations


class HlLocalError(Exception):
    """A start-up problem with a one-line explanation."""


class PortInUse(HlLocalError):
    def __init__(self, what: str, host: str, port: int, reason: str) -> None:
        super().__init__(
            f"cannot listen for {what} on {host}:{port} ({reason}); "
            f"stop whatever uses it or choose another port (0 picks a free one)"
        )


class DatabaseLocked(HlLocalError):
    def __init__(self, path: str, holder: str) -> None:
        super().__init__(
            f"{path} is already open in {holder}; is another hl-local running? "
            f"Stop it, or start this one with another --db PATH (or --memory)"
        )


class DatabaseUnusable(HlLocalError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot use {path} as the database ({reason}); choose another --db PATH")


class SchemaMismatch(HlLocalError):
    pass


class RowsRejected(ValueError):
    """A decoded value does not fit its column (e.g. an integer out of range)."""


class Overloaded(Exception):
    """The writer has more pending rows than its bound; the client should retry later."""

    retry_after_s = 2


class WriteFailed(Exception):
    """The database refused a batch (rolled back); nothing of it was stored."""
