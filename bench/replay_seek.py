"""Replay seek benchmark: a 30-minute session in rrweb-player 2.1.6, in headless Chromium.

Run by hand (never in the test suite); needs `npm ci` in web/ and /usr/bin/chromium:

    .venv/bin/python bench/replay_seek.py                 # 5 runs, 30 minutes
    .venv/bin/python bench/replay_seek.py --runs 3 --minutes 10

The session (bench/replay_session.py: the real SDK's page, then a busy dashboard for N minutes with
one full snapshot) is ingested once through POST /public of a real hl-local. Each run then starts a
fresh hl-local on that file (so keyframes are computed cold, at read time) and opens the bench page
(bench/seek_page, bundled with esbuild from web/node_modules) served on hl-local's origin, in three
modes:

- `stock`: `keyframes=false`, every event loaded, then the player is created (the baseline);
- `keyframes`: the same with synthetic keyframes in the stream;
- `keyframes+head`: the first `--head` seconds loaded first (`to_ms`), the player created, the rest
  fetched and added with `addEvent`.

Measured per mode (medians over the runs): time to the first painted frame from navigation, and
seek latency to 1, 10, 20 and 29 minutes (`goto` + the next frame; each from the end, so the player
rebuilds from the last Meta before the target: forward seeks within a segment cost at most that), with the
clock text the seek rendered checked against the recording. Also: the stream's size and the time to
its last byte over HTTP, cold and warm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench.replay_ingest import start_server
from bench.replay_session import CLOCK_ID, session

ROOT = Path(__file__).parent.parent
PAGE = ROOT / "bench" / "seek_page"
WEB = ROOT / "web"
SESSION_ID = "BenchLongSession000000000001"
START_MS = 1_795_000_000_000
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
MODES = {"stock": ("false", 0), "keyframes": ("true", 0), "keyframes+head": ("true", 1)}


def ingest(db: Path, minutes: float) -> dict[str, float]:
    process, _, _, url = start_server(db)
    events = size = 0
    try:
        with httpx.Client(timeout=60) as client:
            for body, pushed in session(SESSION_ID, minutes, START_MS):
                reply = client.post(f"{url}/public", json=body)
                assert reply.status_code == 200, reply.text
                events += len(pushed)
                size += len(json.dumps(pushed, separators=(",", ":")))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"events": events, "mib": size / 2**20, "minutes": minutes}


def bundle() -> str:
    done = subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "esbuild"), str(PAGE / "seek.js"), "--bundle", "--minify",
         "--format=iife"],
        capture_output=True, text=True, check=True, env={"NODE_PATH": str(WEB / "node_modules"), "PATH": ""},
    )  # fmt: skip
    return done.stdout


def expected_clocks(url: str, offsets: list[int]) -> dict[int, str]:
    """The clock text a paused player shows at each offset: the last clock mutation before it."""
    events = httpx.get(f"{url}/api/sessions/{SESSION_ID}/events?keyframes=false", timeout=60).json()
    start = events[0]["timestamp"]
    ticks = [
        (e["timestamp"], t["value"])
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 0
        for t in e["data"]["texts"]
        if t["id"] == CLOCK_ID
    ]
    return {o: [v for ts, v in ticks if ts < start + o][-1] for o in offsets}


def stream_figures(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, query in (("stock", "keyframes=false"), ("keyframes", "keyframes=true")):
        for attempt in ("cold", "warm") if name == "keyframes" else ("cold",):
            started = time.perf_counter()
            body = httpx.get(f"{url}/api/sessions/{SESSION_ID}/events?{query}", timeout=60).content
            out[f"{name}_{attempt}_s"] = time.perf_counter() - started
        out[f"{name}_mib"] = len(body) / 2**20
        out[f"{name}_full_snapshots"] = sum(e["type"] == 2 for e in json.loads(body))
    return out


def one_run(
    db: Path, script: str, style: str, args: argparse.Namespace, offsets: list[int]
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    html = (PAGE / "index.html").read_text().replace("/*STYLE*/", style)
    results: dict[str, Any] = {}
    for mode, (keyframes, head) in MODES.items():
        process, _, _, url = start_server(db)  # a fresh server: keyframes computed cold
        try:
            expected = expected_clocks(url, offsets) if not results else results["expected"]
            results["expected"] = expected
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.route(
                    f"{url}/bench/index.html*", lambda r: r.fulfill(body=html, content_type="text/html")
                )
                page.route(
                    f"{url}/bench/seek.js", lambda r: r.fulfill(body=script, content_type="text/javascript")
                )
                query = f"session={SESSION_ID}&keyframes={keyframes}&first_ms={START_MS}"
                query += f"&head_ms={args.head * 1000 * head}"
                page.goto(f"{url}/bench/index.html?{query}")
                opened = page.evaluate("window.opened")
                seeks = {}
                for offset in offsets:
                    page.evaluate("window.seek(window.player.getMetaData().totalTime)")  # rrweb seeks back
                    got = page.evaluate("o => window.seek(o)", offset)
                    if got["clock"] != expected[offset]:
                        raise SystemExit(
                            f"{mode}: seek to {offset} ms showed {got['clock']!r}, not {expected[offset]!r}"
                        )
                    seeks[offset] = got
                browser.close()
            results[mode] = {"open": opened, "seeks": seeks}
        finally:
            process.terminate()
            process.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--head", type=int, default=60, help="seconds loaded first in keyframes+head")
    args = parser.parse_args()
    offsets = [m * 60_000 for m in (1, 10, 20, 29) if m * 60_000 < args.minutes * 60_000]
    script = bundle()
    style = (WEB / "node_modules" / "rrweb-player" / "dist" / "style.css").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        size = ingest(db, args.minutes)
        print(
            f"session: {size['events']:,} events, {size['mib']:.1f} MiB of rrweb JSON, {args.minutes:g} min"
        )
        process, _, _, url = start_server(db)
        try:
            streams = stream_figures(url)
        finally:
            process.terminate()
            process.wait(timeout=60)
        print("stream: " + ", ".join(f"{k} {v:.2f}" for k, v in streams.items()))
        runs = []
        for n in range(args.runs):
            runs.append(one_run(db, script, style, args, offsets))
            print(f"  run {n + 1}: " + "; ".join(
                f"{mode} first frame {r['open']['first_frame_ms']:.0f} ms, seeks "
                + "/".join(f"{s['total_ms']:.0f}" for s in r["seeks"].values())
                for mode, r in runs[-1].items() if mode != "expected"
            ), flush=True)  # fmt: skip
    print(f"\nmedians over {args.runs} runs (ms):")
    base: dict[str, float] = {}
    for mode in MODES:
        first = statistics.median(r[mode]["open"]["first_frame_ms"] for r in runs)
        fetched = statistics.median(r[mode]["open"]["fetched_ms"] for r in runs)
        loaded = statistics.median(r[mode]["open"]["loaded_ms"] for r in runs)
        seeks = {o: statistics.median(r[mode]["seeks"][o]["total_ms"] for r in runs) for o in offsets}
        syncs = {o: statistics.median(r[mode]["seeks"][o]["sync_ms"] for r in runs) for o in offsets}
        base = base or {"first": first, **{str(o): v for o, v in seeks.items()}}
        print(
            f"{mode:15} first frame {first:6.0f} (x{base['first'] / first:.1f}; "
            f"events fetched {fetched:.0f}, "
            f"all loaded {loaded:.0f}) | seek "
            + ", ".join(
                f"{o // 60_000} min {seeks[o]:.0f} (sync {syncs[o]:.0f}, x{base[str(o)] / seeks[o]:.1f})"
                for o in offsets
            )
        )


if __name__ == "__main__":
    main()
