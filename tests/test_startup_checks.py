"""A database that cannot work is refused at start, with what to do, instead of failing every write later.

Truncated files, files of other programs (SQLite: DuckDB would fetch an extension to open it),
remote `md:` paths, and read-only directories. Each start-up must fail as one line, exit 1, quickly
(no download attempt), and leave the file as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import httpx

from tests.conftest import run_hl_local, start_server
from tests.filesystems import remount_read_only, tmpfs
from tests.test_cli import FAIL_WITHIN_S, free_ports, one_error_line


def _real_database(path: Path) -> None:
    server = start_server(path)
    reply = httpx.post(
        f"{server.otlp_http_url}/v1/logs",
        content=b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"kept"}}]}]}]}',
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 200
    assert server.stop() == 0


def test_a_truncated_database_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    original = tmp_path / "whole.duckdb"
    _real_database(original)
    for keep in (0.5, 0.01):
        db = tmp_path / f"truncated-{keep}.duckdb"
        shutil.copy(original, db)
        with db.open("r+b") as file:
            file.truncate(int(original.stat().st_size * keep))
        size = db.stat().st_size
        line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
        assert str(db) in line and "damaged" in line and "truncated" in line
        assert "restore it from a copy" in line
        assert db.stat().st_size == size


def test_an_empty_file_is_refused_as_truncated(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    db.write_bytes(b"")
    line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
    assert "truncated" in line


def test_a_sqlite_file_is_refused_without_fetching_an_extension(tmp_path: Path) -> None:
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    home = tmp_path / "home"  # DuckDB would install extensions under ~/.duckdb
    env = {**os.environ, "HOME": str(home)}
    env = {k: v for k, v in env.items() if not k.startswith("HL_LOCAL_")}
    for args in (free_ports("--db", str(db)), ["info", "--db", str(db)]):
        line = one_error_line(run_hl_local(*args, env=env, timeout_s=FAIL_WITHIN_S))
        assert "SQLite" in line and str(db) in line
    assert not (home / ".duckdb").exists()


def test_a_remote_database_path_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HL_LOCAL_")}
    env["HOME"] = str(tmp_path)
    line = one_error_line(run_hl_local(*free_ports("--db", "md:telemetry"), env=env, timeout_s=FAIL_WITHIN_S))
    assert "not a remote database" in line
    assert not (tmp_path / ".duckdb").exists()


def test_a_database_in_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    """A real read-only file system (root ignores permission bits, so chmod would prove nothing)."""
    with tmpfs(tmp_path / "mnt", 64 * 1024 * 1024) as mnt:
        db = mnt / "hl.duckdb"
        _real_database(db)
        remount_read_only(mnt)
        line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
        assert str(db) in line and "cannot write in" in line and "read-only file system" in line
        assert "--read-only opens it to look" in line
        new = one_error_line(
            run_hl_local(*free_ports("--db", str(mnt / "new.duckdb")), timeout_s=FAIL_WITHIN_S)
        )
        assert "read-only file system" in new
        info = run_hl_local("info", "--db", str(db))  # reading still works
        assert info.returncode == 0, info.stderr
        assert "logs 1" in info.stdout
        looking = start_server(db, "--read-only")  # and serving it to look (no run file can be written)
        try:
            assert looking.stats()["logs"] == 1
            refused = httpx.delete(f"{looking.ui_url}/api/data", params={"everything": "true"}, timeout=10)
            assert refused.status_code == 503 and "--read-only" in refused.json()["detail"]
        finally:
            looking.stop()
