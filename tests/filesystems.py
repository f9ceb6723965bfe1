"""Small real file systems for tests: a tmpfs of a given size (a disk that fills up), remountable read-only.

Mounting needs root, which CI and this machine's sessions have; elsewhere the tests that need one
are skipped. A full tmpfs answers writes with ENOSPC, the same error a full laptop disk gives, so
the code path under test is the real one (RLIMIT_FSIZE would give EFBIG instead, and only to the
process it is set on).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@contextmanager
def tmpfs(where: Path, size_bytes: int) -> Iterator[Path]:
    """A fresh tmpfs of `size_bytes` mounted at `where` for the block; skips the test without root."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    mounted = _mount("-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def remount_read_only(where: Path) -> None:
    result = _mount("-o", "remount,ro", str(where))
    assert result.returncode == 0, result.stderr


def fill(where: Path, keep_free_bytes: int = 0) -> Path:
    """Write a filler file until the file system has at most `keep_free_bytes` left; returns it."""
    filler = where / "filler"
    stats = os.statvfs(where)
    free = stats.f_bavail * stats.f_frsize - keep_free_bytes
    with filler.open("wb") as file:
        chunk = bytes(1024 * 1024)
        try:
            while free > 0:
                file.write(chunk[: min(len(chunk), free)])
                free -= len(chunk)
            file.flush()
        except OSError:
            pass
    return filler
