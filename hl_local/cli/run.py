"""`hl-local run [options] -- CMD [ARGS...]`: capture what a command's telemetry into one file.

1. Starts `hl-local serve` as a child process (cli/server_process.py) on free ports, appending to
   `--db` (default `hl-local-run.duckdb` here), and waits until it listens.
2. Runs CMD with an environment that points unmodified SDKs at it (cli/run_environment.py);
   signals sent to `run` go to CMD.
3. When CMD exits, stops the server, which stores what was still in flight (bounded), then reads
   what this run captured from the file and prints the summary to stderr (`--summary-json` too).
4. Exits with CMD's status (128 + N when signal N ended it; 127/126 when it cannot be started, as a
   shell does); `--fail-on-error` turns a 0 into 1 when errors were captured.

Why a child process rather than a server thread in this one: the server keeps its own signal
handling (uvicorn's and runtime.py's work only in a main thread) in a session of its own, so a
Ctrl-C meant for CMD does not stop the capture half-way; a server that crashes or hangs cannot take
CMD's status with it; and the server is exactly `hl-local serve`, the process every test starts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from hl_local.cli.options import SERVER_OPTIONS, Option, UsageError, add_options, resolve
from hl_local.cli.run_environment import PROTOCOLS, Protocol, command_environment
from hl_local.cli.server_process import ServerProcess
from hl_local.spawn import child_env

NAME = "run"
HELP = "run a command with hl-local capturing its telemetry into one file, then summarise it"

DEFAULT_DB = Path("hl-local-run.duckdb")
_FREE_PORTS = {"port": "UI, API, /public and OTLP/HTTP", "otlp_http_port": "OTLP/HTTP",
               "otlp_grpc_port": "OTLP/gRPC"}  # fmt: skip
# run never opens a browser; --dev is for working on the UI; a capture that may not write stores nothing
_NOT_FOR_RUN = {"no_open", "dev", "read_only"}


def _protocol(value: str) -> Protocol:
    for protocol in PROTOCOLS:
        if value == protocol:
            return protocol
    raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(PROTOCOLS)}")


DB = Option("--db", "the DuckDB file to capture into, appended to and never replaced "
            f"(default: {DEFAULT_DB} here)", Path, DEFAULT_DB, metavar="PATH")  # fmt: skip
SERVER = [
    dataclasses.replace(option, default=0, help=f"{_FREE_PORTS[option.dest]} (default: a free port)")
    if option.dest in _FREE_PORTS
    else option
    for option in SERVER_OPTIONS
    if option.dest not in _NOT_FOR_RUN
]
RUN_OPTIONS = [
    Option("--otlp-protocol", "what OTEL_EXPORTER_OTLP_PROTOCOL tells the command's OpenTelemetry SDKs to "
           "speak, and so which port OTEL_EXPORTER_OTLP_ENDPOINT names: http/protobuf (default), "
           "http/json or grpc", _protocol, "http/protobuf", metavar="PROTOCOL"),
    Option("--summary-json", "also write the summary as JSON to FILE (its schema: docs/ci.md)", Path,
           metavar="FILE"),
    Option("--fail-on-error", "exit 1 instead of 0 when errors were captured", switch=True, default=False),
]  # fmt: skip
OPTIONS = [DB, *SERVER, *RUN_OPTIONS]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.usage = "hl-local run [options] -- CMD [ARGS...]"
    parser.epilog = (
        "CMD's environment points OpenTelemetry SDKs at the server (OTEL_EXPORTER_OTLP_*) and names "
        "it in HL_LOCAL_URL, HL_LOCAL_BACKEND_URL, HL_LOCAL_OTLP_HTTP_ENDPOINT and "
        "HL_LOCAL_OTLP_GRPC_ENDPOINT. Exit status: CMD's own (128+N for signal N, 127 when it "
        "cannot be found, 126 when it cannot be executed), 1 when hl-local cannot start."
    )
    add_options(parser, OPTIONS)
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]",
                        help="the command to run, after --")  # fmt: skip


class CannotRun(Exception):
    """CMD cannot be started; `status` is what a shell would exit with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("give the command to run after --, e.g. hl-local run -- pytest")
    resolve(args, OPTIONS)
    try:
        check_runnable(command, os.environ.get("PATH"))
    except CannotRun as exc:
        print(f"hl-local: {exc}", file=sys.stderr)
        return exc.status
    return Run(command, args).execute()


def check_runnable(command: list[str], search_path: str | None) -> None:
    """Raise CannotRun unless command[0] names an executable file (before any server starts)."""
    name = command[0]
    if os.sep in name:
        path = Path(name)
        if not path.exists():
            raise CannotRun(127, f"cannot run {name}: no such file")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise CannotRun(126, f"cannot run {name}: not an executable file (chmod +x it?)")
    elif shutil.which(name, path=search_path) is None:
        raise CannotRun(127, f"cannot run {name}: command not found (is it installed, and on PATH?)")


def _preload() -> None:
    # What `run` needs after CMD (duckdb for the summary: ~0.2 s; urllib for the server's pending
    # rows) is imported on this process's own core while the server starts, not after CMD.
    with contextlib.suppress(Exception):
        import urllib.request  # noqa: F401

        import hl_local.cli.run_report  # noqa: F401


class Run:
    def __init__(self, command: list[str], args: argparse.Namespace) -> None:
        self.command = command
        self.db: Path = args.db
        self.serve_args = serve_arguments(args)
        self.protocol: Protocol = args.otlp_protocol
        self.summary_json: Path | None = args.summary_json
        self.fail_on_error: bool = args.fail_on_error
        self.signals = _Signals()

    def execute(self) -> int:
        started_ns = time.time_ns()
        phases = _Phases()
        self.signals.install()
        server: ServerProcess | None = None
        try:
            _progress("starting hl-local…")
            try:
                server = ServerProcess.start(self.serve_args)
                threading.Thread(target=_preload, name="hl-local run preload", daemon=True).start()
                server.wait_until_ready()
            finally:
                _progress("")
            phases.mark("server ready")
            try:
                returncode = self._run_command(server)
                ran_s = phases.mark("CMD")
            except CannotRun as exc:
                server.stop()
                print(f"hl-local: {exc}", file=sys.stderr)
                return exc.status
            server_lost = not server.running
            _progress("storing what is still in flight…")
            try:
                stopped = server.stop()
            finally:
                _progress("")
            phases.mark("server stopped")
            from hl_local.cli.run_report import Ended, finish  # preloaded by now

            ended = Ended(self.command, self.db, started_ns, ran_s, returncode,
                          stopped, server_lost, self.fail_on_error, self.summary_json)  # fmt: skip
            status = finish(ended)
            phases.mark("summary")
        except _Interrupted as interrupted:  # before CMD started, or after it ended
            if server is not None:
                server.kill()
            return 128 + interrupted.signum
        finally:
            self.signals.restore()
        server.finish()
        phases.report()
        return status

    def _run_command(self, server: ServerProcess) -> int:
        """Run CMD to its end; its returncode (negative: the signal that ended it)."""
        # child_env: the user's own environment, not the frozen executable's library path
        env = command_environment(child_env(), server.listeners, self.protocol)
        print(f"hl-local run: capturing into {self.db} (UI {server.listeners.ui_url}); "
              f"running {shlex.join(self.command)}", file=sys.stderr, flush=True)  # fmt: skip
        self.signals.launching = True  # a signal now waits for CMD to exist, then goes to it
        try:
            child = subprocess.Popen(self.command, env=env)
        except OSError as exc:  # found, yet exec refused it (a bad #! line, a file that is no program)
            status = 127 if isinstance(exc, FileNotFoundError) else 126
            raise CannotRun(status, f"cannot run {self.command[0]}: {exc.strerror or exc}") from None
        finally:
            self.signals.launching = False
        self.signals.started(child)
        try:
            return child.wait()
        finally:
            self.signals.child = None


class _Phases:
    """How long each part of a run took, printed with HL_LOCAL_DEBUG set (where is my CI's time?)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._took: list[tuple[str, float]] = []

    def mark(self, name: str) -> float:
        now = time.monotonic()
        took, self._last = now - self._last, now
        self._took.append((name, took))
        return took

    def report(self) -> None:
        if os.environ.get("HL_LOCAL_DEBUG"):
            parts = ", ".join(f"{name} {took:.3f} s" for name, took in self._took)
            print(f"hl-local run: took: {parts}", file=sys.stderr)


def _progress(text: str) -> None:
    """A transient status line on a terminal (cleared with ""); nothing when stderr is piped."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{'hl-local run: ' + text if text else ''}")
        sys.stderr.flush()


def serve_arguments(args: argparse.Namespace) -> list[str]:
    """`hl-local serve` flags for the server options `run` resolved (flags, HL_LOCAL_*, defaults)."""
    argv = ["--db", str(args.db)]
    for option in SERVER:
        value = getattr(args, option.dest)
        if option.switch:
            argv += [option.flag] if value else []
        elif option.repeat:
            for item in value:
                argv += [option.flag, _as_text(item)]
        elif value is not None:
            argv += [option.flag, str(value)]
    return argv


def _as_text(value: object) -> str:
    """An option's parsed value as its flag takes it again: a (NAME, VALUE) header is NAME=VALUE."""
    if isinstance(value, tuple):
        return "=".join(map(str, value))
    return str(value)


class _Interrupted(BaseException):  # a signal, like KeyboardInterrupt
    def __init__(self, signum: int) -> None:
        self.signum = signum


# (by name: Windows has only some of them, and `hl-local` imports this module for its --help)
_FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1",
                                                      "SIGUSR2") if hasattr(signal, name))  # fmt: skip
_FROM_KEYBOARD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGQUIT") if hasattr(signal, name))


def _in_terminal_foreground() -> bool:
    """True when this process group is the terminal's foreground group: a Ctrl-C there reaches CMD
    (in the same group) directly, and forwarding it would deliver it twice."""
    if not hasattr(os, "tcgetpgrp"):
        return False
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False


class _Signals:
    """While CMD runs, signals to `run` go to CMD; before it starts or after it ended, they stop `run`."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.launching = False
        self._held: list[int] = []  # arrived while CMD was being started
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        for signum in _FORWARDED:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]  # what signal.signal returned
        self._previous.clear()

    def started(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        held, self._held = self._held, []
        for signum in held:
            self._forward(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.launching:
            self._held.append(signum)
        elif self.child is not None and self.child.returncode is None:
            self._forward(signum)
        else:
            raise _Interrupted(signum)

    def _forward(self, signum: int) -> None:
        assert self.child is not None
        if not (signum in _FROM_KEYBOARD and _in_terminal_foreground()):
            with contextlib.suppress(ProcessLookupError):
                self.child.send_signal(signum)
