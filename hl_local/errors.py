"""The exceptions hl-local raises on purpose, each with a message that says what to do next.

HlLocalError                  start-up problems the CLI prints as one line (exit code 1)
├── PortInUse                 a listener could not bind its port
│   └── AlreadyRunning        ... because an hl-local answers there
├── DatabaseLocked            another process (usually another hl-local) holds the DuckDB file
├── DatabaseUnusable          the path cannot be created, opened or written
│   └── DatabaseDamaged       the file is truncated or damaged
├── SchemaMismatch            the file was written by an incompatible hl-local version, or a row
│                             Struct and its table disagree
└── ExportError               `hl-local export` / `import` cannot do what was asked (nothing matches,
                              the output exists, a file that is not what it should be)
IngestError                   a request that is not stored (nothing of it is): ingest/failures.py
│                             maps each kind to the one status OTLP/HTTP, gRPC and /public answer
├── DecodeError               the body is not what the endpoint takes (400 / INVALID_ARGUMENT)
│   └── RowsRejected          decoded values that do not fit their columns
├── BodyTooLarge              the body, or what it inflates to, is over the limit (413)
├── BodyTimeout               the body came too slowly (408)
├── UnsupportedMedia          a Content-Type or Content-Encoding hl-local does not read (415)
├── Overloaded                the writer's queue is full: 503 / UNAVAILABLE + Retry-After, never drop
│   └── StorageFull           the disk is full: the same answer, retried later
├── ReadOnly                  the database was opened with --read-only: 503 / UNAVAILABLE, saying so
└── WriteFailed               a commit failed: answered 500 and nothing of it is kept
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


class AlreadyRunning(PortInUse):
    def __init__(self, what: str, host: str, port: int, pid: int) -> None:
        HlLocalError.__init__(
            self,
            f"hl-local (pid {pid}) is already running here: it listens for {what} on {host}:{port}. "
            "Use that one (hl-local info), stop it, or choose other ports (0 picks free ones)",
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


class DatabaseDamaged(DatabaseUnusable):
    def __init__(self, path: str, reason: str) -> None:
        HlLocalError.__init__(
            self,
            f"{path} is damaged ({reason}); restore it from a copy, or move it away to start a new "
            "database there (or choose another --db PATH)",
        )


class SchemaMismatch(HlLocalError):
    pass


class WriterStopped(HlLocalError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the database writer stopped ({reason}), so nothing more could be stored; hl-local "
            "stopped too. Everything acknowledged before is in the database: start hl-local again"
        )


class ExportError(HlLocalError):
    """An export or import that cannot be done as asked; the message says what to change."""


class IngestError(Exception):
    """A request hl-local does not store; the message says why."""


class DecodeError(IngestError, ValueError):
    """The body is not a valid message for its endpoint; the text names what is wrong."""


class RowsRejected(DecodeError):
    """A decoded value does not fit its column (e.g. an integer out of range)."""


class BodyTooLarge(IngestError):
    """The body, or what it decompresses to, is over a limit."""


class BodyTimeout(IngestError):
    """The body did not arrive within its deadline."""


class UnsupportedMedia(IngestError):
    """A Content-Type or Content-Encoding that hl-local does not read."""


class Overloaded(IngestError):
    """The writer has more pending rows than its bound; the client should retry later."""

    retry_after_s = 2

    def __init__(self, message: str = "hl-local is busy writing; retry shortly") -> None:
        super().__init__(message)


class StorageFull(Overloaded):
    """The disk holding the database is full: nothing was stored; the client retries later."""

    retry_after_s = 10

    def __init__(self) -> None:
        super().__init__("the disk holding hl-local's database is full; retry once space is freed")


class ReadOnly(IngestError):
    """The database was opened with --read-only: nothing is stored, and retrying will not help."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"hl-local opened {path} read-only (--read-only) and stores nothing; "
            "restart it without --read-only to receive telemetry"
        )


class WriteFailed(IngestError):
    """The database refused a batch (rolled back); nothing of it was stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the database refused the batch: {reason}")
