from __future__ import annotations

import httpx

from tests.conftest import Server


def test_health_answers_with_version(server: Server) -> None:
    reply = httpx.get(f"{server.ui_url}/health")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["version"]


def test_stats_start_empty(server: Server) -> None:
    stats = server.stats()
    assert (stats["spans"], stats["logs"], stats["metric_points"]) == (0, 0, 0)
