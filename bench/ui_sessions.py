"""UI benchmark: the sessions list with 10,000 sessions, in headless Chromium.

Run by hand (never in the test suite):

    .venv/bin/python bench/ui_sessions.py                  # 10,000 sessions, 5 runs
    .venv/bin/python bench/ui_sessions.py --sessions 2000 --runs 3

A fresh hl-local gets `--sessions` sessions through the real `/public` endpoint (initializeSession
and the first recorded push of tests/fixtures/browser/main.jsonl, under fresh ids). Each run opens
/sessions in Debian's Chromium and measures:
- the time from navigation to the first rows on screen;
- scrolling from the top to the 10,000th row at a steady 3,000 px per frame (the list loads its
  pages of 200 on the way): the time that takes, and the frame intervals meanwhile (p50, p95, max,
  frames over 50 ms);
- then scrolling the same way through all the rows again, now loaded (the list's own cost);
- baseline, same run: the frame intervals of the same page left idle (what this machine's
  headless Chromium does at best).
Reported as medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
from replay_ingest import _post, recorded, start_server

FRAMES = """async ({ scroll, rows, fromTop }) => {
  const list = document.querySelector('.vlist');
  if (fromTop) list.scrollTop = 0;
  const times = [];
  let last = performance.now();
  const started = last;
  return await new Promise((done) => {
    const step = (now) => {
      times.push(now - last);
      last = now;
      const end = scroll ? list.getAttribute('aria-rowcount') >= rows &&
        list.scrollTop + list.clientHeight >= list.scrollHeight - 1 : times.length >= 120;
      if (end || now - started > 120000) return done({ times, ms: now - started });
      if (scroll) list.scrollTop += 3000;
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
}"""


async def seed(host: str, port: int, sessions: int) -> None:
    init, pushes, _ = recorded()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for n in range(sessions):
        sid = f"uiBench{n:021d}"
        variables = {**init["variables"], "session_secure_id": sid}
        queue.put_nowait(json.dumps({**init, "variables": variables}).encode())
        push = {**pushes[0]["variables"], "session_secure_id": sid, "payload_id": str(10**12 + n)}
        queue.put_nowait(json.dumps({**pushes[0], "variables": push}).encode())

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while not queue.empty():
            status = await _post(reader, writer, f"{host}:{port}", queue.get_nowait())
            assert status == 200, status
        writer.close()

    await asyncio.gather(*(connection() for _ in range(16)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_run(url: str, sessions: int) -> dict[str, float]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = chromium.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/sessions", wait_until="commit")
        started = page.evaluate("performance.timeOrigin")
        page.locator("a.session-row").first.wait_for()
        first_rows = page.evaluate("performance.now()")
        idle = page.evaluate(FRAMES, {"scroll": False, "rows": sessions, "fromTop": False})
        scrolled = page.evaluate(FRAMES, {"scroll": True, "rows": sessions, "fromTop": False})
        assert int(page.locator(".vlist").get_attribute("aria-rowcount") or 0) >= sessions
        again = page.evaluate(FRAMES, {"scroll": True, "rows": sessions, "fromTop": True})
        chromium.close()
    del started
    frames, idle_frames, loaded = scrolled["times"][1:], idle["times"][1:], again["times"][2:]
    return {
        "first rows (ms)": first_rows,
        "scroll to the end, loading pages (ms)": scrolled["ms"],
        "  frame p50 (ms)": statistics.median(frames),
        "  frame p95 (ms)": percentile(frames, 0.95),
        "  frame max (ms)": max(frames),
        "  frames > 50 ms": sum(1 for f in frames if f > 50),
        "scroll all rows again (ms)": again["ms"],
        "  frame p50 (ms) ": statistics.median(loaded),
        "  frame p95 (ms) ": percentile(loaded, 0.95),
        "  frame max (ms) ": max(loaded),
        "  frames > 50 ms ": sum(1 for f in loaded if f > 50),
        "idle frame p50 (ms)": statistics.median(idle_frames),
        "idle frame p95 (ms)": percentile(idle_frames, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, host, port, url = start_server(Path(folder) / "ui.duckdb")
        try:
            asyncio.run(seed(host, port, args.sessions))
            runs = [one_run(url, args.sessions) for _ in range(args.runs)]
        finally:
            process.terminate()
            process.wait()
    print(f"sessions list, {args.sessions:,} sessions, medians of {args.runs} runs:")
    for key in runs[0]:
        values = [r[key] for r in runs]
        each = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {key:38} {statistics.median(values):9.1f}   (runs: {each})")


if __name__ == "__main__":
    main()
