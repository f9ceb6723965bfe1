"""The running hl-local's own facts, beside its database: where it listens, and its pid.

`info`, `prune` and `clear` read them to reach the running server (its real ports, not the
defaults); a second `hl-local` on the same ports recognises the first by its /health answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from pathlib import Path

import msgspec


class Instance(msgspec.Struct):
    pid: int
    version: str
    host: str
    port: int
    otlp_http_port: int
    otlp_grpc_port: int

    @property
    def ui_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"


def run_file(database: Path) -> Path:
    return database.with_name(database.name + ".run.json")


def write(database: Path | None, instance: Instance) -> None:
    if database is None:
        return
    path = run_file(database)
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(OSError):  # --read-only in a read-only directory: info finds it by port
        temporary.write_bytes(msgspec.json.encode(instance))
        temporary.replace(path)


def remove(database: Path | None) -> None:
    if database is not None:
        with contextlib.suppress(OSError):
            run_file(database).unlink()


def running(database: Path | None) -> Instance | None:
    """The hl-local serving `database` now, if one is (a run file left by a kill -9 names a dead pid)."""
    if database is None:
        return None
    try:
        instance = msgspec.json.decode(run_file(database).read_bytes(), type=Instance)
    except (OSError, msgspec.DecodeError):
        return None
    return instance if _alive(instance.pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def hl_local_at(host: str, port: int) -> int | None:
    """The pid of the hl-local answering /health on host:port, or None if it is something else."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    try:
        with urllib.request.urlopen(f"http://{shown}:{port}/health", timeout=1) as reply:
            health = json.load(reply)
    except (OSError, ValueError):
        return None
    if (
        isinstance(health, dict)
        and health.get("service") == "hl-local"
        and isinstance(health.get("pid"), int)
    ):
        return int(health["pid"])
    return None
