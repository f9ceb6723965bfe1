"""Source maps for browser errors: a bundle built by esbuild (web/'s toolchain), a real highlight.run.

The checkout holds TypeScript sources; esbuild bundles and minifies them with a map beside the
bundle. A page on a test app server loads the bundle and the real `highlight.run` in headless
Chromium; a click makes the bundle throw, the SDK reports it, and hl-local shows the frame at the
original TypeScript file, line and function, with that file's lines. The other cases (an inline
`data:` map, a map fetched from the app's dev server with --fetch-source-maps, a rebuilt bundle, a
line the map does not cover, what grouping compares) post V8 stacks naming the same bundles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from hl_local.source.fetch import loopback_address
from hl_local.source.frames import Sources
from hl_local.source.roots import SourceRoots
from hl_local.store.grouping import fingerprints
from tests.conftest import Server, clean_env, launch, wait_until
from tests.test_browser_live import CHROMIUM_ARGS, sdk_bundle  # noqa: F401 (a fixture)
from tests.test_source_context import otlp_error

ESBUILD = Path(__file__).resolve().parent.parent / "web" / "node_modules" / ".bin" / "esbuild"

CHECKOUT_TS = """\
export interface Cart {
  items: number[]
}

export function applyDiscount(cart: Cart, code: string): number {
  const total = cart.items.reduce((sum, item) => sum + item, 0)
  if (code !== "SAVE10") {
    throw new Error(`unknown discount code ${code}`) // line 8
  }
  return total * 0.9
}
"""

MAIN_TS = """\
import { applyDiscount } from "./checkout"

function showTotal(code: string): void {
  const total = applyDiscount({ items: [10, 20] }, code) // line 4
  document.getElementById("total")!.textContent = String(total)
}

document.getElementById("apply")!.addEventListener("click", () => {
  showTotal((document.getElementById("code") as HTMLInputElement).value)
})
"""

PAGE = """\
<!doctype html>
<html><head><meta charset="utf-8"><title>map shop</title>
<script src="/highlight.umd.js"></script>
<script>H.init('1', CONFIG)</script>
</head><body>
<input id="code" value="FREE"><button id="apply">Apply</button><span id="total"></span>
<script src="/dist/app.js"></script>
</body></html>
"""


def esbuild(checkout: Path, out: str, *options: str) -> None:
    if not ESBUILD.exists():
        pytest.skip("web/node_modules is missing (npm ci in web/ installs esbuild)")
    command = [str(ESBUILD), "src/main.ts", "--bundle", "--minify", f"--outfile={out}", *options]
    subprocess.run(command, cwd=checkout, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mapped")
    (root / "src").mkdir()
    (root / "src" / "checkout.ts").write_text(CHECKOUT_TS)
    (root / "src" / "main.ts").write_text(MAIN_TS)
    esbuild(root, "dist/app.js", "--sourcemap")  # dist/app.js + dist/app.js.map
    esbuild(root, "dist/inline.js", "--sourcemap=inline")
    esbuild(root, "served/remote.js", "--sourcemap")  # only on the dev server: not under the root
    return root


class AppServer:
    """The app's dev server: the page, highlight.run, and the files of `directory`."""

    def __init__(self, directory: Path, page: bytes, sdk: bytes) -> None:
        files = {"/": (page, "text/html"), "/highlight.umd.js": (sdk, "text/javascript")}
        self.requests: list[str] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                app.requests.append(self.path)
                found = files.get(self.path)
                path = directory / self.path.lstrip("/")
                if found is None and ".." not in self.path and path.is_file():
                    found = (path.read_bytes(), "text/javascript")
                body, kind = found or (b"not found", "text/plain")
                self.send_response(200 if found else 404)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def served(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("db") / "hl.duckdb"
    ports = ["--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
    server = launch(
        ["serve", "--no-open", *ports, "--db", str(db), "--fetch-source-maps"], clean_env(), db, cwd=checkout
    )
    yield server
    server.stop()


def newest_group(server: Server, query: str) -> dict[str, Any]:
    def found() -> str | None:
        items = httpx.get(f"{server.ui_url}/api/error-groups", params={"query": query}).json()["items"]
        return items[0]["group_id"] if items else None

    group_id = wait_until(found, 30, f"an error group matching {query}")
    return httpx.get(f"{server.ui_url}/api/error-groups/{group_id}").json()


def bundle_column(checkout: Path, bundle: str, needle: str) -> int:
    """The 1-based column of `needle` on the bundle's first line (what V8 would report)."""
    return (checkout / bundle).read_text().splitlines()[0].index(needle) + 1


def thrower(checkout: Path, bundle: str) -> str:
    """The minified name of the function that throws (what V8 names in the stack)."""
    code = (checkout / bundle).read_text()
    before = code[: code.index("throw")]
    return before[before.rindex("function ") + len("function ") :].split("(")[0]


def v8_stack(url: str, column: int, function: str = "r", line: int = 1) -> str:
    caller = f"    at HTMLButtonElement.<anonymous> ({url}:1:9)"
    frames = [f"    at {function} ({url}:{line}:{column})", caller]
    return "\n".join(["Error: unknown discount code FREE", *frames])


def test_a_real_browser_error_resolves_to_the_typescript_source(
    served: Server,
    checkout: Path,
    sdk_bundle: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import sync_playwright

    config = json.dumps({"backendUrl": f"{served.ui_url}/public", "otlpEndpoint": served.otlp_http_url})
    app = AppServer(checkout, PAGE.replace("CONFIG", config).encode(), sdk_bundle.read_bytes())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                        ignore_default_args=["--enable-automation"])  # fmt: skip
            page = browser.new_page()
            page.goto(app.url + "/")
            sessions = f"{served.ui_url}/api/sessions"
            wait_until(lambda: httpx.get(sessions).json()["items"], 30, "the SDK's session")
            page.click("#apply")
            group = newest_group(served, "source=frontend unknown discount code")
            browser.close()
    finally:
        app.stop()
    top = group["frames"][0]
    assert top["source_map"]["status"] == "applied", top["source_map"]
    assert top["source_map"]["origin"] == "dist/app.js.map"
    assert (top["file"], top["line"], top["function"]) == ("src/checkout.ts", 8, "applyDiscount")
    assert top["generated"]["file"] == f"{app.url}/dist/app.js" and top["generated"]["line"] == 1
    context = top["context"]
    assert context["status"] == "ok" and context["path"] == os.path.realpath(checkout / "src" / "checkout.ts")
    assert (
        context["lines"][8 - context["first_line"]]
        .strip()
        .startswith("throw new Error(`unknown discount code")
    )
    caller = group["frames"][1]
    assert (caller["file"], caller["line"], caller["function"]) == ("src/main.ts", 4, "showTotal")


def post_stack(server: Server, kind: str, stack: str) -> dict[str, Any]:
    posted = httpx.post(f"{server.otlp_http_url}/v1/traces", json=otlp_error(kind, f"{kind} happened", stack))
    assert posted.status_code == 200, posted.text
    return newest_group(server, f"type={kind}")


def test_inline_maps_fetched_maps_and_maps_that_do_not_apply(served: Server, checkout: Path) -> None:
    column = bundle_column(checkout, "dist/inline.js", "throw")
    inline = post_stack(
        served,
        "InlineMap",
        v8_stack("http://localhost:1/dist/inline.js", column, thrower(checkout, "dist/inline.js")),
    )["frames"][0]
    assert (
        inline["source_map"]["status"] == "applied"
        and inline["source_map"]["origin"] == "inline in dist/inline.js"
    )
    assert (inline["file"], inline["line"], inline["function"]) == ("src/checkout.ts", 8, "applyDiscount")

    outside = checkout / "served"  # the dev server's files: not under the checkout's source roots
    app = AppServer(outside, b"", b"")
    try:
        column = bundle_column(checkout, "served/remote.js", "throw")
        fetched = post_stack(
            served,
            "FetchedMap",
            v8_stack(f"{app.url}/remote.js", column, thrower(checkout, "served/remote.js")),
        )["frames"][0]
        assert fetched["source_map"]["status"] == "applied", fetched["source_map"]
        assert fetched["source_map"]["origin"] == f"{app.url}/remote.js.map"
        assert (fetched["file"], fetched["line"]) == ("../src/checkout.ts", 8)
        assert fetched["context"]["status"] == "ok"  # from the map's sourcesContent
        assert {"/remote.js", "/remote.js.map"} <= set(app.requests)
    finally:
        app.stop()

    uncovered = post_stack(served, "NotCovered", v8_stack("http://localhost:1/dist/app.js", 1, line=7))[
        "frames"
    ][0]
    assert uncovered["source_map"]["status"] == "not_covered" and uncovered["generated"] is None
    foreign = post_stack(served, "ForeignHost", v8_stack("http://10.1.2.3:8080/nowhere.js", 10))["frames"][0]
    assert foreign["source_map"]["status"] == "no_bundle"
    assert "10.1.2.3 is not a loopback address" in foreign["source_map"]["detail"]

    # The bundle is rebuilt after the error: its map describes the new build, not this frame.
    group = post_stack(
        served,
        "Rebuilt",
        v8_stack("http://localhost:1/dist/app.js", bundle_column(checkout, "dist/app.js", "throw")),
    )
    assert group["frames"][0]["source_map"]["status"] == "applied"
    time.sleep(1.1)  # the rebuild must be a second after the error (REBUILT_SLACK_NS); not synchronisation
    esbuild(checkout, "dist/app.js", "--sourcemap")

    def rebuilt() -> dict[str, Any] | None:
        frame = httpx.get(f"{served.ui_url}/api/error-groups/{group['group_id']}").json()["frames"][0]
        return frame if frame["source_map"]["status"] == "changed_since" else None

    frame = wait_until(rebuilt, 10, "the rebuilt bundle to be noticed")
    assert "rebuilt" in frame["source_map"]["detail"] and frame["generated"] is None


def test_only_loopback_addresses_are_ever_asked() -> None:
    assert loopback_address("http://localhost:5173/app.js") == ("127.0.0.1", 5173)
    assert loopback_address("http://127.0.0.2/app.js") == ("127.0.0.2", 80)
    assert loopback_address("http://[::1]:3000/app.js") == ("::1", 3000)
    for url in ("http://10.0.0.1/app.js", "http://example.com/app.js", "http://localhost.example.com/a.js",
                "https://127.0.0.1/app.js", "http://0.0.0.0/app.js", "http://192.168.1.1/a.js"):  # fmt: skip
        assert isinstance(loopback_address(url), str), url


def test_grouping_compares_original_frames_once_the_map_is_loaded(checkout: Path) -> None:
    sources = Sources(SourceRoots([], cwd=checkout, home=Path("/nonexistent/home")))
    url = "http://localhost:1/dist/app.js"
    frames = [{"file": url, "line": 1, "column": bundle_column(checkout, "dist/app.js", "throw"),
               "function": thrower(checkout, "dist/app.js"), "source": None}]  # fmt: skip
    try:
        assert sources.for_grouping(frames) == frames  # not loaded yet: asked for in the background
        wait_until(lambda: sources.maps.loads >= 1, 10, "the map to load in the background")
        resolved = sources.for_grouping(frames)
        assert resolved[0] | {"column": None} == {"file": "src/checkout.ts", "line": 8, "column": None,
                                                   "function": "applyDiscount", "source": None}  # fmt: skip
        assert fingerprints(resolved).top != fingerprints(frames).top
        assert any(
            fp.startswith("meta:src/checkout.ts;applyDiscount;8;") for fp in fingerprints(resolved).top
        )
    finally:
        sources.close()


@pytest.fixture(autouse=True)
def _needs_node_tools() -> None:
    if shutil.which("node") is None:
        pytest.skip("node runs esbuild")
