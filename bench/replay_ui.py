"""Replay benchmark through the real UI: a 30-minute session opened at /sessions/<id>.

Run by hand (never in the test suite); needs the built UI and /usr/bin/chromium:

    .venv/bin/python bench/replay_ui.py                 # 5 runs, 30 minutes
    .venv/bin/python bench/replay_ui.py --runs 3 --minutes 10

The session is bench/replay_session.py's (the real SDK's first page, then a busy dashboard with a
clock for N minutes, one full snapshot), ingested once through POST /public. Each run starts a
fresh hl-local on that file (keyframes computed cold) and, in headless Chromium:
- opens /sessions/<id> and times navigation → the recorded page's text inside the player;
- seeks by clicking the UI's timeline at 1, 10, 20 and 29 minutes (each from the end of the
  session, so the player cannot reuse what it just built) and times the click → the replayed
  clock showing the second it should (the clock text is checked against the recording).
Baseline in the same run: the same seeks with keyframes turned off in the stream
(`?keyframes=false` is passed through to the events request by this benchmark only).
Reported as medians over the runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench.replay_ingest import start_server
from bench.replay_seek import CHROMIUM_ARGS, SESSION_ID, expected_clocks, ingest

IN_FRAME = "() => document.querySelector('.replayer-wrapper iframe')?.contentDocument"
TIME_SEEK = """(expected) => { window.__seek = new Promise((done) => {
  const bar = document.querySelector('.timeline');
  bar.addEventListener('pointerdown', () => {
    const started = performance.now();
    const check = () => {
      const doc = document.querySelector('.replayer-wrapper iframe')?.contentDocument;
      const clock = doc?.getElementById('clock')?.textContent;
      if (clock === expected) done(performance.now() - started);
      else if (performance.now() - started > 20000) done(-1);
      else requestAnimationFrame(check);
    };
    check();
  }, { once: true, capture: true });
}); }"""


def click_at(page: Page, fraction: float) -> None:
    box = page.locator(".timeline").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)


def one_run(db: Path, minutes: float, offsets: list[int], keyframes: bool) -> dict[str, float]:
    process, _, _, url = start_server(db)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            # Playwright's wait_for_function evaluates strings, which our CSP forbids (as it should)
            page = browser.new_page(viewport={"width": 1440, "height": 900}, bypass_csp=True)
            if not keyframes:
                page.route(
                    "**/api/sessions/*/events*",
                    lambda route: route.continue_(url=route.request.url + "&keyframes=false"),
                )
            page.goto(f"{url}/sessions/{SESSION_ID}", wait_until="commit")
            page.wait_for_function(f"({IN_FRAME})()?.body?.innerText?.length > 0", timeout=30000)
            first_frame = page.evaluate("performance.now()")
            # the whole recording is in once the timeline spans (nearly) all of it
            page.wait_for_function(
                "Number(document.querySelector('.timeline')?.getAttribute('aria-valuemax')) >= "
                + str(int(minutes * 60_000) - 5_000),
                timeout=60000,
            )
            total = int(page.get_by_role("slider", name="Timeline").get_attribute("aria-valuemax") or 0)
            figures = {"first frame": first_frame}
            for offset in offsets:
                click_at(page, offset / total)  # where this x lands, to the millisecond
                landed = int(page.get_by_role("slider", name="Timeline").get_attribute("aria-valuenow") or 0)
                expected = expected_clocks(url, [landed])[landed]
                click_at(page, 0.999)
                page.evaluate(TIME_SEEK, expected)  # armed: times from the next pointerdown
                click_at(page, offset / total)
                elapsed = float(page.evaluate("window.__seek"))
                if elapsed < 0:
                    raise SystemExit(f"seek to {landed} ms never showed {expected!r}")
                figures[f"seek {offset // 60_000} min"] = elapsed
            browser.close()
        return figures
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args()
    offsets = [m * 60_000 for m in (1, 10, 20, 29) if m * 60_000 < args.minutes * 60_000]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        size = ingest(db, args.minutes)
        print(f"session: {size['events']:,} events, {size['mib']:.1f} MiB of rrweb JSON, {args.minutes:g} m")
        runs = {True: [], False: []}
        for n in range(args.runs):
            for keyframes in (True, False):
                runs[keyframes].append(one_run(db, args.minutes, offsets, keyframes))
            print(f"  run {n + 1}: " + " | ".join(
                ", ".join(f"{k} {v:.0f}" for k, v in runs[kf][-1].items()) for kf in (True, False)
            ), flush=True)  # fmt: skip
    print(f"\nmedians over {args.runs} runs (ms; baseline = keyframes off):")
    for key in runs[True][0]:
        with_kf = statistics.median(r[key] for r in runs[True])
        without = statistics.median(r[key] for r in runs[False])
        print(f"  {key:14} {with_kf:7.0f}   baseline {without:7.0f}   x{without / with_kf:.1f}")


if __name__ == "__main__":
    main()
