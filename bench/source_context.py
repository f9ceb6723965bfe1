"""Source context benchmark: the error page with source lines, a 1 MB source map, watchfiles' memory.

Run by hand (never in the test suite):

    .venv/bin/python bench/source_context.py --runs 5            # all three parts
    .venv/bin/python bench/source_context.py --only page|map|watch

- page: a 20-frame Python stack through 20 files of 200 lines in a temporary checkout, posted over
  OTLP/HTTP. One hl-local runs with the checkout as its working directory (every frame gets its 11
  lines), the baseline one with `/` (no source root: every frame is refused, no file is read), both
  at once and asked in turn. Per run, two fresh servers: the first GET /api/error-groups/{id} (first
  view: files read cold) and the median of 30 more (cached). Then the same in process:
  Sources.sourced() of the stack, cold (a new Sources) and cached.
- map: web/'s own UI bundled by esbuild with --minify --sourcemap (a ~1.2 MB map): load (read bundle
  and map, parse) and resolve a frame, cold, `--runs` times; a cached lookup; json.loads of the same
  map as the same-run baseline.
- watch: a 10,000-file checkout (500 directories of 20 files); in a fresh process each: the RSS of
  importing watchfiles (baseline), then of SourceWatcher on the directories of 20 files shown (what
  hl-local does), then of watchfiles watching the whole checkout recursively (what it does not do),
  with the inotify watches each holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FRAMES = 20


def median(values: list[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- page


def make_checkout(root: Path) -> str:
    lines = []
    for i in range(FRAMES):
        body = [f"# module {i}", *[f"value_{n} = {n} * {i}  # filler line {n}" for n in range(1, 190)]]
        body += [
            f"def step_{i}(x):",
            f"    return step_{i + 1}(x) + 1" if i < FRAMES - 1 else "    raise KeyError(x)",
        ]
        (root / f"mod_{i}.py").write_text("\n".join(body) + "\n")
        lines.append((f"{root}/mod_{i}.py", len(body), f"step_{i}"))
    frames = [f'  File "{file}", line {line}, in {fn}\n    return x' for file, line, fn in lines]
    return "Traceback (most recent call last):\n" + "\n".join(frames) + "\nKeyError: 'bench'"


def otlp(stack: str) -> dict[str, object]:
    now = time.time_ns()
    values = (("exception.type", "KeyError"), ("exception.message", "bench"), ("exception.stacktrace", stack))
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in values]
    span = {"traceId": os.urandom(16).hex(), "spanId": os.urandom(8).hex(), "name": "bench",
            "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 1),
            "events": [{"timeUnixNano": str(now), "name": "exception", "attributes": attrs}]}  # fmt: skip
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}


def start(cwd: Path) -> tuple[subprocess.Popen[str], str, str]:
    command = [sys.executable, "-m", "hl_local", "--no-open", "--memory", "--quiet",
               "--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HL_LOCAL_")} | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    ui = otlp_url = ""
    assert proc.stdout is not None
    while not (ui and otlp_url):
        line = proc.stdout.readline()
        if m := re.match(r"hl-local UI and API\s+(\S+)", line):
            ui = m[1]
        elif m := re.match(r"OTLP/HTTP\s+(\S+)/v1/traces", line):
            otlp_url = m[1]
    return proc, ui, otlp_url


def page_pair(stack: str, checkout: Path, flip: bool) -> dict[str, tuple[float, float, int]]:
    """Both servers at once, asked in turn: the machine's noise falls on both alike."""
    modes = {"source lines": checkout, "baseline (no roots)": Path("/")}
    running = {name: start(cwd) for name, cwd in modes.items()}
    try:
        with httpx.Client(timeout=30) as client:
            urls = {}
            for name, (_, ui, otlp_url) in running.items():
                client.post(f"{otlp_url}/v1/traces", json=otlp(stack)).raise_for_status()
                group_id = ""
                while not group_id:
                    items = client.get(f"{ui}/api/error-groups").json()["items"]
                    group_id = items[0]["group_id"] if items else ""
                urls[name] = f"{ui}/api/error-groups/{group_id}"
            order = list(urls)[::-1] if flip else list(urls)
            first: dict[str, float] = {}
            lines: dict[str, int] = {}
            for name in order:
                t = time.perf_counter()
                answer = client.get(urls[name])
                first[name] = (time.perf_counter() - t) * 1000
                lines[name] = sum(1 for f in answer.json()["frames"] if f["context"]["lines"])
            warm: dict[str, list[float]] = {name: [] for name in urls}
            for _ in range(30):
                for name in order:
                    t = time.perf_counter()
                    client.get(urls[name]).raise_for_status()
                    warm[name].append((time.perf_counter() - t) * 1000)
        return {name: (first[name], median(warm[name]), lines[name]) for name in urls}
    finally:
        for proc, _, _ in running.values():
            proc.terminate()
            proc.wait(timeout=20)


def bench_page(runs: int) -> None:
    from hl_local.source.frames import Budget, Sources
    from hl_local.source.roots import SourceRoots

    with tempfile.TemporaryDirectory() as tmp:
        checkout = Path(tmp)
        stack = make_checkout(checkout)
        results: dict[str, list[tuple[float, float, int]]] = {"source lines": [], "baseline (no roots)": []}
        for run in range(runs):
            for name, row in page_pair(stack, checkout, flip=run % 2 == 1).items():
                results[name].append(row)
        title = f"error page, GET /api/error-groups/{{id}}, {FRAMES} frames"
        print(f"{title}, medians of {runs} fresh servers (ms):")
        for name, rows in results.items():
            first, cached = median([r[0] for r in rows]), median([r[1] for r in rows])
            print(
                f"  {name:20} first view {first:7.1f}   cached {cached:6.2f}   frames with lines {rows[0][2]}"
            )

        from hl_local.decode.stacks import frames_to_json, parse_stack

        frames_json = json.dumps(frames_to_json(parse_stack(stack)[0]))
        cold, warm = [], []
        for _ in range(runs * 4):
            sources = Sources(SourceRoots([], cwd=checkout, home=Path("/nonexistent")))
            t = time.perf_counter()
            sources.sourced(frames_json, time.time_ns(), Budget())
            cold.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            sources.sourced(frames_json, time.time_ns(), Budget())
            warm.append((time.perf_counter() - t) * 1000)
            sources.close()
        print(
            f"  in process, Sources.sourced() of the {FRAMES}-frame stack: cold {median(cold):.2f} ms, "
            f"cached {median(warm):.3f} ms"
        )


# ---------------------------------------------------------------- map


def bench_map(runs: int) -> None:
    from hl_local.source.maps import SourceMaps
    from hl_local.source.roots import SourceRoots

    esbuild = ROOT / "web" / "node_modules" / ".bin" / "esbuild"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dist" / "app.js"
        subprocess.run([str(esbuild), "src/main.tsx", "--bundle", "--minify", "--sourcemap", "--format=esm",
                        "--jsx=automatic", "--jsx-import-source=preact", f"--outfile={out}"],
                       cwd=ROOT / "web", check=True, capture_output=True)  # fmt: skip
        map_bytes = (out.parent / "app.js.map").read_bytes()
        code = out.read_text()
        column = len(code.splitlines()[0]) // 2
        roots = SourceRoots([], cwd=Path(tmp), home=Path("/nonexistent"))
        loads, lookups, parses = [], [], []
        for _ in range(runs * 2):
            maps = SourceMaps(roots)
            t = time.perf_counter()
            mapped, note = maps.resolve(str(out), 1, column, "e", None)
            loads.append((time.perf_counter() - t) * 1000)
            assert mapped is not None, note
            t = time.perf_counter()
            for _ in range(100):
                maps.resolve(str(out), 1, column, "e", None)
            lookups.append((time.perf_counter() - t) * 1e4)  # µs per lookup (100 of them)
            t = time.perf_counter()
            json.loads(map_bytes)
            parses.append((time.perf_counter() - t) * 1000)
        size = f"{len(map_bytes) / 1e6:.2f} MB ({len(code) / 1e3:.0f} KB bundle)"
        print(f"source map of {size}, medians of {runs * 2}:")
        cold, cached = median(loads), median(lookups)
        print(f"  load + resolve one frame, cold {cold:.1f} ms; a cached lookup {cached:.1f} µs;")
        print(f"  baseline json.loads of the map {median(parses):.1f} ms")


# ---------------------------------------------------------------- watch

_WATCH_CHILD = r"""
import os, sys, threading, time
sys.path.insert(0, sys.argv[3])
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
def watches():
    total = 0
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            total += sum(1 for l in open(f"/proc/self/fdinfo/{fd}") if l.startswith("inotify wd:"))
        except OSError:
            pass
    return total
import watchfiles
root, mode = sys.argv[1], sys.argv[2]
before = rss()
t = time.perf_counter()
if mode == "shown":
    from hl_local.source.watch import SourceWatcher
    w = SourceWatcher(lambda paths: None)
    for d in sorted(os.listdir(root))[:20]:
        w.add(os.path.join(root, d, "f0.py"))
    w.watching.wait(30)
elif mode == "recursive":
    stop = threading.Event()
    ready = threading.Event()
    def run():
        for _ in watchfiles.watch(root, stop_event=stop, yield_on_timeout=True, rust_timeout=200):
            ready.set()
    threading.Thread(target=run, daemon=True).start()
    ready.wait(60)
time.sleep(1.0)
print(before, rss(), watches(), round(time.perf_counter() - t - 1.0, 3))
"""


def bench_watch(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for d in range(500):
            folder = Path(tmp) / f"pkg{d:03d}"
            folder.mkdir()
            for f in range(20):
                (folder / f"f{f}.py").write_text(f"x = {f}\n")
        results: dict[str, list[list[float]]] = {"import only": [], "shown": [], "recursive": []}
        for _ in range(runs):
            for mode, label in (("none", "import only"), ("shown", "shown"), ("recursive", "recursive")):
                done = subprocess.run([sys.executable, "-c", _WATCH_CHILD, tmp, mode, str(ROOT)],
                                      capture_output=True, text=True, check=True)  # fmt: skip
                results[label].append([float(v) for v in done.stdout.split()])
        print(f"watchfiles on a 10,000-file checkout (500 directories), medians of {runs} processes:")
        base = median([r[1] for r in results["import only"]])
        for label, rows in results.items():
            added = median([r[1] for r in rows]) - base
            rss = median([r[1] for r in rows]) / 1024
            watches, took = int(median([r[2] for r in rows])), median([r[3] for r in rows])
            print(f"  {label:12} RSS {rss:6.1f} MiB (+{added / 1024:5.1f} MiB over importing watchfiles), "
                  f"inotify watches {watches:4d}, started in {took:.3f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("page", "map", "watch"))
    args = parser.parse_args()
    for name, bench in (("page", bench_page), ("map", bench_map), ("watch", bench_watch)):
        if args.only in (None, name):
            bench(args.runs)
    shutil.rmtree(Path(tempfile.gettempdir()) / "hl-local-bench-none", ignore_errors=True)


if __name__ == "__main__":
    main()
