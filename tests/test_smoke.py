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


def test_openapi_schema_lists_the_api_and_loads_nothing_from_elsewhere(server: Server) -> None:
    reply = httpx.get(f"{server.ui_url}/api/schema/openapi.json")
    assert reply.status_code == 200
    paths = reply.json()["paths"]
    assert {"/api/sessions", "/api/logs", "/api/traces", "/api/error-groups"} <= set(paths)
    page = httpx.get(f"{server.ui_url}/api/schema")
    assert page.status_code == 200
    assert "https://" not in page.text  # no CDN script: hl-local makes no outbound connection
