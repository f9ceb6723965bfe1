"""Source lines around stack frames, from files on this machine (hl_local/source/).

Real processes raise from files in a temporary checkout: a Python app with the stock OpenTelemetry
SDK and a Node app with the OpenTelemetry JS SDK (tests/node). hl-local runs with the checkout as
its working directory (so it is a source root) and shows the right lines, then the new lines after
the file is edited. Hostile frames (absolute paths outside, `..`, symlinks out of the root, file://
URLs, NUL bytes, a `.env`) are never read: as root, this process could read /etc/shadow, so a
failing check would show its text, which the test looks for in the whole answer.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hl_local.source.frames import Budget, Sources
from hl_local.source.roots import SourceRoots, parse_source_root
from tests.conftest import Server, clean_env, launch, wait_until
from tests.test_backend_js import node_clients

__all__ = ["node_clients"]  # the fixture that installs tests/node (or skips)

ORDERS_PY = """\
# shop/orders.py: where orders are looked up
ORDERS = {1: "book"}


def load_order(order_id):
    missing = order_id not in ORDERS
    return ORDERS[order_id]  # raises here (line 7)


def unused():
    return None
"""

APP_PY = """\
import sys

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from shop.orders import load_order

provider = TracerProvider(resource=Resource.create({"service.name": "shop-py"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1] + "/v1/traces")))
with provider.get_tracer("shop").start_as_current_span("GET /orders/7") as span:
    try:
        load_order(7)
    except KeyError as exc:
        span.record_exception(exc)
provider.shutdown()
"""

SERVER_CJS = """\
'use strict'
const api = require('@opentelemetry/api')
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http')
const { resourceFromAttributes } = require('@opentelemetry/resources')

function chargeCard(amount) {
  const limit = 100
  if (amount > limit) {
    throw new RangeError('amount ' + amount + ' is over the limit') // line 10
  }
}

const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'shop-node' }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: process.argv[2] + '/v1/traces' }))],
})
const span = provider.getTracer('shop').startSpan('POST /charge')
try {
  chargeCard(250)
} catch (err) {
  span.recordException(err)
}
span.end()
provider.shutdown()
"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "orders.py").write_text(ORDERS_PY)
    (root / "app.py").write_text(APP_PY)
    (root / "server.cjs").write_text(SERVER_CJS)
    (root / ".env").write_text("SECRET_TOKEN=hunter2-not-for-the-ui\n")
    os.symlink("/etc", root / "etc_link")
    return root


@pytest.fixture(scope="module")
def served(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("db") / "hl.duckdb"
    ports = ["--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
    args = ["serve", "--no-open", *ports, "--db", str(db), "--editor", "vscode"]
    server = launch(args, clean_env(), db, cwd=checkout)
    yield server
    server.stop()


def group_of(server: Server, kind: str) -> dict[str, Any]:
    def found() -> str | None:
        page = httpx.get(f"{server.ui_url}/api/error-groups", params={"query": f"type={kind}"}).json()
        return page["items"][0]["group_id"] if page["items"] else None

    group_id = wait_until(found, 20, f"an error group of type {kind}")
    return httpx.get(f"{server.ui_url}/api/error-groups/{group_id}").json()


def line_of(context: dict[str, Any], number: int) -> str:
    return context["lines"][number - context["first_line"]]


def test_a_python_process_shows_its_lines_and_the_new_ones_after_an_edit(
    served: Server, checkout: Path
) -> None:
    subprocess.run([sys.executable, "app.py", served.otlp_http_url], cwd=checkout, check=True, timeout=60)
    group = group_of(served, "KeyError")
    top = group["frames"][0]
    assert (top["file"], top["line"], top["function"]) == (
        str(checkout / "shop" / "orders.py"),
        7,
        "load_order",
    )
    context = top["context"]
    assert context["status"] == "ok", context
    assert context["path"] == os.path.realpath(checkout / "shop" / "orders.py")
    assert context["first_line"] == 2 and len(context["lines"]) == 10  # 5 before; the file ends 4 after
    assert line_of(context, 7) == "    return ORDERS[order_id]  # raises here (line 7)"
    assert context["editor_url"] == f"vscode://file{context['path']}:7"
    assert context["modified_after"] is False
    caller = group["frames"][1]
    assert (
        caller["file"].endswith("app.py")
        and line_of(caller["context"], caller["line"]) == "        load_order(7)"
    )
    assert group["occurrences_latest"][0]["frames"][0]["context"] == context  # the stack the page shows

    # The developer edits the file: two lines on top. The same frame now shows what line 7 holds now.
    # An edit within 1 s of the error is not "after" it (clocks and mtimes differ that much): edit later.
    time.sleep(max(0.0, 1.1 - (time.time_ns() - group["last_seen_ns"]) / 1e9))  # not synchronisation
    (checkout / "shop" / "orders.py").write_text("# edited\n# twice\n" + ORDERS_PY)

    def edited() -> dict[str, Any] | None:
        frame = httpx.get(f"{served.ui_url}/api/error-groups/{group['group_id']}").json()["frames"][0]
        return frame["context"] if frame["context"]["lines"][0] == "# twice" else None

    context = wait_until(edited, 10, "the edited lines")
    assert line_of(context, 7) == "def load_order(order_id):"
    assert context["modified_after"] is True
    error = httpx.get(f"{served.ui_url}/api/errors/{group['occurrences_latest'][0]['error_id']}").json()
    assert line_of(error["frames"][0]["context"], 9) == "    return ORDERS[order_id]  # raises here (line 7)"


def test_an_export_carries_no_source_lines(served: Server, checkout: Path) -> None:
    """An HTML export is a file for someone else: the trace's error frames in it have no context."""
    if not (checkout / "shop" / "orders.py").exists():
        pytest.skip("needs the Python test's error")
    group = group_of(served, "KeyError")
    trace_id = httpx.get(f"{served.ui_url}/api/errors/{group['occurrences_latest'][0]['error_id']}").json()[
        "trace_id"
    ]
    shown = httpx.get(f"{served.ui_url}/api/traces/{trace_id}").json()
    assert shown["errors"][0]["frames"][0]["context"]["status"] == "ok"
    page = httpx.get(f"{served.ui_url}/api/export", params={"trace": trace_id, "format": "html"}, timeout=60)
    assert page.status_code == 200, page.text
    packed = re.search(r'id="hl-data">([^<]*)<', page.text)
    assert packed is not None
    data = json.loads(gzip.decompress(base64.b64decode(packed.group(1))))
    [exported] = data["traces"]
    frames = [frame for error in exported["errors"] for frame in error["frames"]]
    assert frames and all(frame["context"] is None for frame in frames), frames
    # the traceback's own line is recorded data; the lines around it come only from the file
    assert "def unused" not in json.dumps(data) and "vscode://" not in page.text


def test_a_node_process_shows_its_lines(served: Server, checkout: Path, node_clients: Path) -> None:
    node = shutil.which("node")
    assert node is not None  # node_clients skips without it
    env = {**os.environ, "NODE_PATH": str(node_clients / "node_modules")}
    subprocess.run([node, "server.cjs", served.otlp_http_url], cwd=checkout, check=True, timeout=60, env=env)
    top = group_of(served, "RangeError")["frames"][0]
    assert (top["file"], top["line"], top["function"]) == (
        os.path.realpath(checkout / "server.cjs"),
        10,
        "chargeCard",
    )
    assert top["source_map"]["status"] == "no_map"  # a .cjs file is looked at for a map, and has none
    assert "no sourceMappingURL comment and no server.cjs.map" in top["source_map"]["detail"]
    assert line_of(top["context"], 10).strip().startswith("throw new RangeError(")
    assert top["context"]["editor_url"].startswith("vscode://file/") and top["context"][
        "editor_url"
    ].endswith(":10:11")


def hostile_stacks(checkout: Path) -> tuple[str, str]:
    python = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/etc/shadow", line 1, in <module>',
            '  File "/etc/passwd", line 1, in outside',
            '  File "../../../../../../etc/passwd", line 1, in dotdot',
            f'  File "{checkout}/shop/../../../../../../etc/passwd", line 1, in dotdot_absolute',
            '  File "etc_link/passwd", line 1, in symlink_relative',
            f'  File "{checkout}/etc_link/shadow", line 1, in symlink_absolute',
            f'  File "{checkout}/.env", line 1, in dotenv',
            f'  File "{checkout}/shop/orders.py\x00/etc/passwd", line 1, in nul',
            '  File "/root/.ssh/id_rsa", line 1, in key',
            "KeyError: 'hostile'",
        ]
    )
    v8 = "\n".join(
        [
            "Error: hostile v8",
            "    at fileUrl (file:///etc/passwd:1:1)",
            "    at fileUrlEncoded (file:///etc/%70asswd:1:1)",
            "    at fileUrlHost (file://evil.example/etc/passwd:1:1)",
            f"    at fileUrlDotDot (file://{checkout}/../../../../etc/shadow:1:1)",
            "    at procSelf (/proc/self/environ:1:1)",
        ]
    )
    return python, v8


def otlp_error(kind: str, message: str, stack: str) -> dict[str, Any]:
    now = time.time_ns()
    event = {"timeUnixNano": str(now), "name": "exception", "attributes": [
        {"key": "exception.type", "value": {"stringValue": kind}},
        {"key": "exception.message", "value": {"stringValue": message}},
        {"key": "exception.stacktrace", "value": {"stringValue": stack}},
    ]}  # fmt: skip
    span = {"traceId": os.urandom(16).hex(), "spanId": os.urandom(8).hex(), "name": "hostile",
            "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 1000), "events": [event]}  # fmt: skip
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}


def test_frames_outside_the_roots_are_never_read(served: Server, checkout: Path) -> None:
    python, v8 = hostile_stacks(checkout)
    for kind, stack in (("HostilePython", python), ("HostileV8", v8)):
        posted = httpx.post(
            f"{served.otlp_http_url}/v1/traces", json=otlp_error(kind, "hostile " + kind, stack)
        )
        assert posted.status_code == 200, posted.text
    secrets = [Path("/etc/passwd").read_text().splitlines()[0], "hunter2-not-for-the-ui"]
    if os.access("/etc/shadow", os.R_OK):  # as root: a broken check would show it
        secrets.append(Path("/etc/shadow").read_text().splitlines()[0])
    statuses: dict[str, str] = {}
    for kind in ("HostilePython", "HostileV8"):
        group = group_of(served, kind)
        answers = [httpx.get(f"{served.ui_url}/api/error-groups/{group['group_id']}").text]
        answers.append(
            httpx.get(f"{served.ui_url}/api/errors/{group['occurrences_latest'][0]['error_id']}").text
        )
        for text in answers:
            for secret in secrets:
                assert secret not in text
        for frame in group["frames"]:
            assert frame["context"]["lines"] == [] and frame["context"]["editor_url"] is None, frame
            statuses[frame["function"]] = frame["context"]["status"]
    assert statuses == {
        "<module>": "outside_roots", "outside": "outside_roots", "dotdot": "outside_roots",
        "dotdot_absolute": "outside_roots", "symlink_relative": "outside_roots",
        "symlink_absolute": "outside_roots",
        "dotenv": "refused", "key": "outside_roots",
        "fileUrl": "outside_roots", "fileUrlEncoded": "outside_roots", "fileUrlHost": "not_a_file",
        "fileUrlDotDot": "outside_roots", "procSelf": "outside_roots",
        "nul": "refused",
    }  # fmt: skip


def test_roots_resolve_before_checking(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True)
    (work / "a.py").write_text("x = 1\n")
    os.symlink(tmp_path, work / "up")
    roots = SourceRoots([parse_source_root(f"/app={work}")], cwd=home, home=home)
    assert not roots.cwd_used and "holds your home directory" in roots.describe()
    assert roots.locate("/app/a.py").path == os.path.realpath(work / "a.py")  # type: ignore[union-attr]
    assert roots.locate("/app/../home/work/a.py").status == "outside_roots"  # type: ignore[union-attr]
    assert roots.locate("/app/up/home/work/a.py").path.endswith("work/a.py")  # type: ignore[union-attr]
    assert roots.locate("/app/up/other").status == "outside_roots"  # type: ignore[union-attr]
    assert roots.locate("/application/a.py").status == "outside_roots"  # type: ignore[union-attr]
    assert roots.locate("/app/missing.py").status == "missing"  # type: ignore[union-attr]
    assert roots.locate("node:internal/x").status == "not_a_file"  # type: ignore[union-attr]
    assert SourceRoots([], cwd=work, home=home).cwd_used
    assert not SourceRoots([], cwd=Path("/"), home=home).cwd_used


def test_a_watched_file_change_is_noticed_at_once(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("a = 1\nb = 2\nc = 3\n")
    sources = Sources(SourceRoots([], cwd=tmp_path, home=Path("/nonexistent/home")))
    try:
        frame = json.dumps(
            [{"file": str(source), "line": 2, "column": None, "function": "f", "source": None}]
        )
        first = sources.sourced(frame, time.time_ns(), Budget())[0]
        assert first.context is not None and first.context.lines == ["a = 1", "b = 2", "c = 3"]
        wait_until(sources.watcher.watching.is_set, 10, "the watch to start")
        time.sleep(0.05)  # inotify needs the watch in place before the write (not synchronisation)
        (tmp_path / "app.log").write_text("a log file next to the code changes nothing\n")
        source.write_text("a = 1\nb = 20\nc = 3\n")
        wait_until(lambda: sources.version > 0, 10, "the watcher to report the change")
        assert sources.version == 1  # the log file's own events did not count
        again = sources.sourced(frame, time.time_ns(), Budget())[0]
        assert again.context is not None and again.context.lines[1] == "b = 20"
        assert sources.files.reads == 2 and sources.watcher.directories == 1
    finally:
        sources.close()


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"\x00\x01binary", "binary"),
        (b"x" * (10 * 1024 * 1024 + 1), "too_large"),
        (b"one\ntwo\n", "no_such_line"),
    ],
)
def test_files_that_cannot_be_shown_say_why(tmp_path: Path, content: bytes, status: str) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    sources = Sources(SourceRoots([], cwd=tmp_path, home=Path("/nonexistent/home")))
    frame = json.dumps([{"file": str(path), "line": 40, "column": None, "function": "f", "source": None}])
    context = sources.sourced(frame, None, Budget())[0].context
    assert context is not None and (context.status, context.lines) == (status, [])
    assert context.detail
    sources.close()
