"""The digests of the OTLP requests stored lately, held by the writer thread (store/writer.py).

`request_digests` keeps every stored request's digest (pruned with the rows by retention); the
writer checks a new request against the last KEEP_NS of them in memory and appends the new ones
with a plain INSERT. Checking in SQL (INSERT OR IGNORE … RETURNING on a primary key) cost a
statement with an index probe per group commit: ~960 ms per 20,480 spans on the loaded machine,
as much as the spans INSERT. An exporter resends within seconds (the OTel SDKs' and Collector's
retries give up after minutes), so a request resent more than KEEP_NS later is stored again.
"""

from __future__ import annotations

import time

import duckdb

KEEP_NS = 3_600_000_000_000  # one hour


class RecentDigests:
    """Digest → when it was stored; changes of a transaction are staged until it commits."""

    def __init__(self) -> None:
        self._stored: dict[str, int] = {}  # oldest first (insertion order)
        self._staged: dict[str, int] = {}

    def load(self, cur: duckdb.DuckDBPyConnection) -> None:
        since = time.time_ns() - KEEP_NS
        rows = cur.execute(
            "SELECT digest, max(received_ns) AS stored_at FROM request_digests WHERE received_ns >= ? "
            "GROUP BY digest ORDER BY stored_at",
            [since],
        ).fetchall()
        self._stored = {str(digest): int(at) for digest, at in rows}

    def known(self, digest: str) -> bool:
        return digest in self._stored or digest in self._staged

    def stage(self, digest: str, at_ns: int) -> None:
        self._staged[digest] = at_ns

    def commit(self) -> None:
        self._stored.update(self._staged)
        self._staged = {}
        oldest = time.time_ns() - KEEP_NS
        while self._stored:
            digest, at = next(iter(self._stored.items()))
            if at >= oldest:
                break
            del self._stored[digest]

    def rollback(self) -> None:
        self._staged = {}
