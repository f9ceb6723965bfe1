"""`hl-local serve` as a child process of `hl-local run`: started, read until ready, stopped.

The child is an ordinary `hl-local serve` on the options `run` was given, in a session of its own
so that a Ctrl-C on the terminal reaches the command but not the server: `run` stops the server
itself, once the command is done. Its listeners are read from its start-up lines (the lines
`hl-local serve` prints), and `hl-local stopped` says that its database is closed, with everything
it acknowledged committed and checkpointed; its other output goes to stderr as it comes.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from hl_local.errors import HlLocalError
from hl_local.spawn import child_env, self_command

START_TIMEOUT_S = 60.0  # ready in ~1 s; a loaded CI machine may take many times that
# uvicorn lets requests in flight finish for up to 5 s, gRPC's grace is 2 s, then the writer commits
# what is queued and the store checkpoints: 30 s leaves room for a big last commit.
STOP_TIMEOUT_S = 30.0

_UI = re.compile(r"hl-local UI and API\s+(\S+)")
_OTLP_HTTP = re.compile(r"OTLP/HTTP\s+(\S+)/v1/traces")
_OTLP_GRPC = re.compile(r"OTLP/gRPC\s+(\S+)")
_DATABASE = re.compile(r"database\s+(.+)")
_STOPPED = "hl-local stopped"


class ServerFailed(HlLocalError):
    """The server did not start; the message is its own (a busy port, a database in use, ...)."""


@dataclass
class Listeners:
    """Where the server listens, as URLs a client on this machine connects to."""

    ui_url: str = ""  # http://127.0.0.1:PORT: UI, API, /public and OTLP/HTTP
    otlp_http_url: str = ""  # http://127.0.0.1:PORT
    otlp_grpc_url: str = ""  # http://127.0.0.1:PORT (the scheme tells gRPC exporters: plaintext)
    database: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.ui_url and self.otlp_http_url and self.otlp_grpc_url and self.database)


@dataclass
class Stopped:
    """How the server's stop went: what was in flight, how long it took, whether it had to be killed."""

    pending_rows: int | None
    waited_s: float
    killed: bool


def connectable(url: str) -> str:
    """A listener's URL as a client connects to it: a wildcard address becomes loopback."""
    for wildcard, loopback in (("0.0.0.0", "127.0.0.1"), ("[::]", "[::1]")):
        url = url.replace(f"//{wildcard}:", f"//{loopback}:")
    return url


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    listeners: Listeners = field(default_factory=Listeners)
    _ready: threading.Event = field(default_factory=threading.Event)
    _closed: threading.Event = field(default_factory=threading.Event)
    _ended: threading.Event = field(default_factory=threading.Event)
    _startup: list[str] = field(default_factory=list)
    _grpc_port: str = ""

    @classmethod
    def start(cls, serve_args: list[str]) -> ServerProcess:
        """Start `hl-local serve SERVE_ARGS`; `wait_until_ready` then waits until it listens."""
        # The server gets its options as flags only: HL_LOCAL_* meant for `run` (or for a server of
        # the user's own) must not change this one (HL_LOCAL_DEBUG, a diagnostic, is kept).
        env = {k: v for k, v in child_env().items() if not k.startswith("HL_LOCAL_") or k == "HL_LOCAL_DEBUG"}
        process = subprocess.Popen(
            self_command("serve", "--no-open", *serve_args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        server = cls(process)
        threading.Thread(target=server._read, name="hl-local server output", daemon=True).start()
        return server

    def wait_until_ready(self) -> None:
        """Return once the server listens; ServerFailed (with its own reason) if it does not."""
        try:
            if not self._ready.wait(START_TIMEOUT_S):
                raise ServerFailed(f"the server did not start within {START_TIMEOUT_S:.0f} s")
            if not self.listeners.complete:
                self._ended.wait(5)
                raise ServerFailed(self._failure())
        except BaseException:
            self.kill()
            raise

    def _failure(self) -> str:
        """The server's own one-line error (`hl-local: …`), else its last words."""
        said = [line for line in self._startup if line.strip()]
        own = [line.removeprefix("hl-local: ") for line in said if line.startswith("hl-local: ")]
        if own:
            return own[-1]
        code = self.process.poll()
        last = said[-1] if said else "no output"
        return f"the server exited during start-up (status {code}): {last}"

    def _read(self) -> None:
        """Read the server's output: its start-up lines, then relay the rest (to stderr) until it ends."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            if not self._ready.is_set():
                self._startup_line(line)
            elif line.startswith(_STOPPED):
                self._closed.set()
            elif not self._closed.is_set():  # after that, `run` may be exiting: never write then
                print(line, file=sys.stderr, flush=True)
        self._ended.set()
        self._ready.set()  # a server that ended during start-up: the waiter reads why
        self._closed.set()

    def _startup_line(self, line: str) -> None:
        found = self.listeners
        if m := _UI.match(line):
            found.ui_url = connectable(m.group(1))
        elif m := _OTLP_HTTP.match(line):
            found.otlp_http_url = connectable(m.group(1))
        elif m := _OTLP_GRPC.match(line):
            self._grpc_port = m.group(1).rsplit(":", 1)[-1]  # HOST:PORT, the host unbracketed
        elif m := _DATABASE.match(line):
            found.database = m.group(1).strip()
        else:
            self._startup.append(line)
            if line.startswith("hl-local: warning"):
                print(line, file=sys.stderr, flush=True)
        if found.ui_url and self._grpc_port:  # the same host as the UI (which prints it bracketed)
            found.otlp_grpc_url = f"{found.ui_url.rsplit(':', 1)[0]}:{self._grpc_port}"
        if found.complete:
            self._ready.set()

    @property
    def running(self) -> bool:
        return not self._ended.is_set() and self.process.poll() is None

    def pending_rows(self) -> int | None:
        """Rows the server has received and not yet committed (None if it does not answer)."""
        import urllib.request  # here: it is a third of what `hl-local` imports to start

        try:
            with urllib.request.urlopen(f"{self.listeners.ui_url}/api/stats", timeout=2) as response:
                return int(json.load(response)["pending_rows"])
        except (OSError, ValueError, KeyError):
            return None

    def stop(self) -> Stopped:
        """Ask the server to stop (SIGTERM) and wait, bounded, until its database is closed.

        hl-local's shutdown lets the requests in flight finish, commits everything the writer holds
        and checkpoints, so the file is complete (no WAL beside it) once it says it stopped.
        """
        pending = self.pending_rows() if self.running else None
        started = time.monotonic()
        killed = False
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            if not self._closed.wait(STOP_TIMEOUT_S):
                self.kill()
                killed = True
        return Stopped(pending, time.monotonic() - started, killed)

    def finish(self) -> None:
        """Let the process end by itself: once it said it stopped, its file and ports are closed, and
        its interpreter's teardown (0.2-0.6 s measured) is no reason to hold `run`'s exit back. An
        ended process is reaped now; one still tearing down is reaped by init when `run` exits."""
        self.process.poll()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
