"""What is shipped: the executable (packaging/build-binary) and a source install on a machine without Node.

Both need a build from this tree, so they run only when asked for: `pytest -m packaging`, which .ci/run
does after `packaging/build-binary`. The executable under test is $HL_LOCAL_BINARY, else dist/hl-local;
it runs from a copy outside the checkout, with nothing in its environment but a fresh HOME (as
`env -i HOME=…`: no Python or Node on PATH), so it can only work if it carries everything itself.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import duckdb
import grpc
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import TextContent
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2

import hatch_build
from hl_local import __version__
from hl_local.cli import VERBS
from tests.conftest import FIXTURES, Server, launch, trace_batch, wait_until
from tests.test_source_maps import CHECKOUT_TS, MAIN_TS, bundle_column, esbuild, post_stack, thrower, v8_stack

ROOT = Path(__file__).parent.parent
BUILT = Path(os.environ.get("HL_LOCAL_BINARY") or ROOT / "dist" / "hl-local")
SERVE = ["serve", "--no-open", "--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
PROTOBUF = {"content-type": "application/x-protobuf"}

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module", autouse=True)
def _only_when_asked(request: pytest.FixtureRequest) -> None:
    if "packaging" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("builds from this tree: run `packaging/build-binary`, then `pytest -m packaging`")


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the executable, away from the checkout."""
    if not BUILT.exists():
        pytest.fail(f"{BUILT} does not exist: run packaging/build-binary first (or set HL_LOCAL_BINARY)")
    copy = tmp_path_factory.mktemp("bin") / "hl-local"
    shutil.copy2(BUILT, copy)
    return copy


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fresh HOME for the module: the first run unpacks into it, the later ones reuse that."""
    return tmp_path_factory.mktemp("home")


def bare_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def run_binary(binary: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, env=bare_env(home), cwd=home, timeout=120
    )


def start(binary: Path, home: Path, db: Path) -> Server:
    return launch([*SERVE, "--db", str(db)], bare_env(home), db, cwd=home, program=[str(binary)])


def unpacked(home: Path) -> list[str]:
    return sorted(p.name for p in (home / ".cache" / "hl-local" / "bin").iterdir())


def processes_running_from(folder: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "exe")).is_relative_to(folder):
                found.append(int(proc.name))
        except OSError:  # gone, or a kernel thread
            continue
    return found


def test_version_names_the_version_and_the_commit(binary: Path, home: Path) -> None:
    done = run_binary(binary, home, "--version")
    assert done.returncode == 0, done.stderr
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert done.stdout.startswith(f"hl-local {__version__} (commit {head.stdout.strip()[:12]}"), done.stdout


@pytest.mark.parametrize("verb", [verb.NAME for verb in VERBS])
def test_every_verb_is_in_the_executable(binary: Path, home: Path, verb: str) -> None:
    done = run_binary(binary, home, verb, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: hl-local {verb}"), done.stdout


def _push_recorded_session(server: Server) -> int:
    """The recorded browser session's GraphQL requests (initializeSession, pushes, …) as the SDK sent them."""
    sent = 0
    with httpx.Client(timeout=30) as client:
        for line in (FIXTURES / "browser" / "main.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record["kind"] != "graphql":
                continue
            headers = {
                k: v for k, v in record["headers"] if k.lower() in ("content-type", "content-encoding")
            }
            reply = client.post(
                server.ui_url + record["path"], content=base64.b64decode(record["body_b64"]), headers=headers
            )
            assert reply.status_code == 200, reply.text
            sent += 1
    return sent


def _export_log_over_grpc(server: Server) -> None:
    record = logs_pb2.LogRecord(time_unix_nano=time.time_ns(), severity_text="WARN")
    record.body.string_value = "from the gRPC smoke test"
    request = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=[record])])]
    )
    with grpc.insecure_channel(server.grpc_target) as channel:
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=30)


def test_it_takes_every_kind_of_traffic_serves_it_and_stops_cleanly(binary: Path, home: Path) -> None:
    db = home / "smoke.duckdb"
    server = start(binary, home, db)
    reply = httpx.post(
        f"{server.otlp_http_url}/v1/traces", content=trace_batch(7), headers=PROTOBUF, timeout=30
    )
    assert reply.status_code == 200, reply.text
    _export_log_over_grpc(server)
    assert _push_recorded_session(server) > 10

    page = httpx.get(server.ui_url + "/")
    assert page.status_code == 200 and '<script type="module" src="/static/app.js">' in page.text
    [wheel] = BUILT.parent.glob("hl_local-*.whl")  # built beside it by packaging/build-binary
    shipped = zipfile.ZipFile(wheel).read("hl_local/static/app.js")
    assert httpx.get(server.ui_url + "/static/app.js").content == shipped, (
        "the wheel and the executable differ"
    )
    stats = server.stats()
    assert stats["spans"] == 512 and stats["logs"] >= 1 and stats["sessions"] == 1, stats
    [session] = httpx.get(server.ui_url + "/api/sessions").json()["items"]
    assert httpx.get(f"{server.ui_url}/api/sessions/{session['session_id']}/events").status_code == 200
    assert "/api/traces" in httpx.get(server.ui_url + "/api/schema/openapi.json").json()["paths"]

    assert server.stop(signal.SIGTERM) == 0
    assert "hl-local stopped; everything acknowledged is in the database" in server.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM replay_chunks),"
            " (SELECT count(*) FROM logs WHERE body = 'from the gRPC smoke test')"
        ).fetchone()
    finally:
        con.close()
    assert counts is not None and counts[0] == 512 and counts[1] > 10 and counts[2] == 1, counts


def test_kill_9_leaves_no_server_behind_and_no_lock(binary: Path, home: Path) -> None:
    db = home / "killed.duckdb"
    server = start(binary, home, db)
    reply = httpx.post(
        f"{server.otlp_http_url}/v1/traces", content=trace_batch(8), headers=PROTOBUF, timeout=30
    )
    assert reply.status_code == 200
    # The process we started is hl-local itself, run from the unpacked folder: no launcher in between.
    # The others running from there are its decoder processes (hl_local/ingest/decoders.py).
    folder = home / ".cache" / "hl-local" / "bin"
    pid = server.process.pid
    assert Path(os.readlink(f"/proc/{pid}/exe")).is_relative_to(folder)
    decoders = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert decoders, "the executable started no decoder process"
    assert sorted(processes_running_from(folder)) == sorted([pid, *decoders])
    server.process.kill()
    server.process.wait(timeout=10)
    # the decoders follow it (their parent-death signal): none is left to hold the folder or the port
    wait_until(lambda: processes_running_from(folder) == [], timeout_s=10, what="every hl-local process gone")
    again = start(binary, home, db)  # the file is not locked, and what was acknowledged is there
    assert again.stats()["spans"] == 512
    assert again.stop() == 0


def test_it_unpacks_once_per_build_and_never_per_run(binary: Path, home: Path) -> None:
    before = {p.name for p in Path("/tmp").glob("_MEI*")}
    for _ in range(3):
        assert run_binary(binary, home, "info", "--memory").returncode == 0
    assert len(unpacked(home)) == 1 and re.fullmatch(
        rf"{re.escape(__version__)}-[0-9a-f]{{16}}", unpacked(home)[0]
    )
    assert {p.name for p in Path("/tmp").glob("_MEI*")} == before


def test_first_runs_at_once_share_one_unpacked_copy(binary: Path, tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: run_binary(binary, tmp_path, "--version"), range(4)))
    assert all(run.returncode == 0 and run.stdout.startswith("hl-local ") for run in runs), runs
    assert len(unpacked(tmp_path)) == 1  # and no half-unpacked folder left behind


def test_its_source_maps_and_mcp_work(binary: Path, home: Path, tmp_path: Path) -> None:
    """The two verbs' libraries PyInstaller cannot see by imports alone: symbolic dlopens its Rust library
    by path, and `mcp` is imported when the verb runs. A frame of an esbuild bundle resolves, and the
    SDK's own client reads that error through the executable's `mcp`."""
    checkout = tmp_path / "checkout"
    (checkout / "src").mkdir(parents=True)
    (checkout / "src" / "checkout.ts").write_text(CHECKOUT_TS)
    (checkout / "src" / "main.ts").write_text(MAIN_TS)
    esbuild(checkout, "dist/inline.js", "--sourcemap=inline")
    db = tmp_path / "mapped.duckdb"
    server = launch([*SERVE, "--db", str(db)], bare_env(home), db, cwd=checkout, program=[str(binary)])
    stack = v8_stack("http://localhost:1/dist/inline.js", bundle_column(checkout, "dist/inline.js", "throw"),
                     thrower(checkout, "dist/inline.js"))  # fmt: skip
    frame = post_stack(server, "PackagedMap", stack)["frames"][0]
    assert frame["source_map"]["status"] == "applied", frame["source_map"]
    assert (frame["file"], frame["line"], frame["function"]) == ("src/checkout.ts", 8, "applyDiscount")
    assert server.stop() == 0

    async def ask() -> str:
        params = StdioServerParameters(command=str(binary), args=["mcp", "--db", str(db)], env=bare_env(home))
        with open(os.devnull, "w") as quiet:
            async with (
                stdio_client(params, errlog=quiet) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                result = await session.call_tool("search", {"signal": "errors", "query": "type=PackagedMap"})
                assert not result.is_error
                [text] = result.content
                assert isinstance(text, TextContent)  # the tools answer text
                return text.text

    assert "PackagedMap: PackagedMap happened" in anyio.run(ask)


# --- a source install without Node -----------------------------------------------------------------


@pytest.fixture
def path_without_node(tmp_path: Path) -> Iterator[str]:
    """A PATH with a shell (npm runs scripts through one) and git, but no node, npm or npx."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "git"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    yield str(bin_dir)


def test_a_source_install_needs_only_python(tmp_path: Path, path_without_node: str) -> None:
    tree = tmp_path / "src"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    assert not (tree / "hl_local" / "static").exists() and not (tree / "web" / "node_modules").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("npm_", "NODE"))}
    env["PATH"] = path_without_node
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "out"), str(tree)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [wheel] = (tmp_path / "out").glob("hl_local-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"hl_local/static/index.html", "hl_local/static/app.js", "hl_local/static/app.css"} <= names
    # PyPI's Node ran the same esbuild over the same sources and lock file: the same bundle
    if not hatch_build.ui_is_stale():
        built_here = (ROOT / "hl_local" / "static" / "app.js").read_bytes()
        assert zipfile.ZipFile(wheel).read("hl_local/static/app.js") == built_here
