"""How hl-local serves its UI: routes, caching, security headers, the live stream, and the wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.api_schema import check, document, schema_of
from tests.conftest import Server, start_server, trace_batch

ROOT = Path(__file__).parent.parent
CLIENT_ROUTES = ["/", "/sessions", "/sessions/a", "/errors", "/errors/7a", "/logs", "/traces", "/traces/0a"]


@pytest.mark.parametrize("path", CLIENT_ROUTES)
def test_every_client_route_is_the_app_page(server: Server, path: str) -> None:
    reply = httpx.get(server.ui_url + path)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in reply.text
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-eval'" not in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"


def test_assets_are_revalidated_with_an_etag(server: Server) -> None:
    first = httpx.get(f"{server.ui_url}/static/app.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    assert first.headers["cache-control"] == "no-cache"
    again = httpx.get(f"{server.ui_url}/static/app.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    css = httpx.get(f"{server.ui_url}/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    "path", ["/static/no.js", "/static/../pyproject.toml", "/static/%2e%2e/ui.py", "/api/no", "/sessions/a/b"]
)
def test_unknown_paths_are_404(server: Server, path: str) -> None:
    assert httpx.get(server.ui_url + path).status_code == 404


def test_the_live_stream_refuses_foreign_hosts(server: Server) -> None:
    reply = httpx.get(f"{server.ui_url}/api/live", headers={"host": "evil.example:8082"})
    assert reply.status_code == 403


def test_the_live_stream_names_what_was_stored(server: Server) -> None:
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{server.ui_url}/api/live") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "event: hello"
        posted = client.post(
            f"{server.otlp_http_url}/v1/traces",
            content=trace_batch(1),
            headers={"content-type": "application/x-protobuf"},
        )
        assert posted.status_code == 200
        deadline = time.monotonic() + 10
        event = None
        for line in lines:
            if line == "event: change":
                event = json.loads(next(lines).removeprefix("data: "))
                break
            assert time.monotonic() < deadline, "no change event after a stored span"
        assert event is not None and "traces" in event["topics"], event
    doc = document(server.ui_url)  # each change's data is the document's LiveChange
    media_type, schema = schema_of(doc, "GET", "/api/live", 200)
    assert media_type == "text/event-stream" and check(event, schema, doc) == []


def test_a_stop_is_not_held_back_by_an_open_live_stream(server: Server) -> None:
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{server.ui_url}/api/live") as stream:
        next(stream.iter_lines())
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 3  # uvicorn's graceful timeout is 5 s


def test_the_wheel_carries_the_built_ui(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = tmp_path.glob("hl_local-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"hl_local/static/index.html", "hl_local/static/app.js", "hl_local/static/app.css"} <= names
    assert not any(name.startswith(("web/", "tests/")) for name in names)


def test_building_without_npm_says_what_to_install() -> None:
    code = "import hatch_build\ntry:\n    hatch_build.build_ui()\nexcept RuntimeError as e:\n    print(e)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={"PATH": ""}, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "install Node 18+" in done.stdout and "published wheel" in done.stdout


def test_dev_mode_tells_open_pages_to_reload_when_the_bundle_changes(tmp_path: Path) -> None:
    server = start_server(tmp_path / "dev.duckdb", "--dev")
    style = ROOT / "hl_local" / "static" / "app.css"
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{server.ui_url}/api/live") as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: hello"
        deadline = time.monotonic() + 10
        style.write_bytes(style.read_bytes())  # what a rebuild does
        for line in lines:
            if line == "event: reload":
                break
            assert not line.startswith("event: "), line
            assert time.monotonic() < deadline, "no reload event after the bundle changed"
    assert server.stop() == 0
