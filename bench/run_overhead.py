"""What `hl-local run` and its pytest plugin add, in wall time: medians over interleaved runs.

Run by hand (never in the test suite):

    .venv/bin/python bench/run_overhead.py --runs 7

Part 1, a command that does nothing (`true`): each round times, in turn,
- `true` alone;
- the server alone, the floor of anything that starts one: `hl-local serve` spawned on free ports
  until its start-up lines say it listens, then SIGTERM until it has exited;
- `hl-local run -- true` from spawn to exit (a fresh --db each time, as a CI job has).
Target: run under 1.5 s in total.

Part 2, a real suite (this repository's tests/test_search.py: in-process, ~100 fast tests) under
pytest, in turn: the plugin turned off (`-p no:hl_local`), the plugin loaded but inert (no
HL_LOCAL_URL), the plugin recording to a running hl-local (HL_LOCAL_URL set, as under `run`), and
the whole `hl-local run -- pytest`. The running hl-local is started once for the recording case.

Rounds interleave the cases so the shared machine's noise falls on all of them alike; the
figures are medians, with the spread.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parent.parent
HL_LOCAL = [sys.executable, "-m", "hl_local"]
FREE = ["--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
SUITE = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_search.py"]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HL_LOCAL_", "OTEL_"))}
    return {**clean, **extra}


def timed(args: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def server_alone(db: Path) -> float:
    started = time.perf_counter()
    serve = [*HL_LOCAL, "serve", "--no-open", *FREE, "--db", str(db)]
    process = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("database"):
            break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    return time.perf_counter() - started


def start_server(db: Path) -> tuple[subprocess.Popen[str], str]:
    serve = [*HL_LOCAL, "serve", "--no-open", *FREE, "--db", str(db)]
    process = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        if m := re.match(r"hl-local UI and API\s+(\S+)", line):
            url = m.group(1)
        if line.startswith("database"):
            return process, url
    raise SystemExit("hl-local did not start")


def report(title: str, figures: dict[str, list[float]], baseline: str) -> None:
    print(f"\n{title} (medians of {len(next(iter(figures.values())))} runs, s)")
    base = statistics.median(figures[baseline])
    for name, values in figures.items():
        median = statistics.median(values)
        spread = f"({min(values):.3f}-{max(values):.3f})"
        print(f"  {name:<44} {median:6.3f}  {spread}  +{median - base:.3f} vs {baseline}")


def measure(cases: dict[str, Callable[[int], float]], runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {name: [] for name in cases}
    for round_no in range(runs + 1):  # the first round warms caches and is dropped
        order = list(cases.items())
        if round_no % 2:
            order.reverse()
        for name, case in order:
            value = case(round_no)
            if round_no:
                figures[name].append(value)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--part", choices=["1", "2", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hl-run-bench-") as tmp:
        work = Path(tmp)
        if args.part in ("1", "both"):
            figures = measure(
                {
                    "true": lambda n: timed(["true"]),
                    "hl-local serve: spawn, ready, SIGTERM, exit": lambda n: server_alone(
                        work / f"s{n}.duckdb"
                    ),
                    "hl-local run -- true": lambda n: timed(
                        [*HL_LOCAL, "run", "--db", str(work / f"r{n}.duckdb"), "--", "true"], env=env()
                    ),
                },
                args.runs,
            )
            report("A command that does nothing", figures, "true")
        if args.part in ("2", "both"):
            process, url = start_server(work / "suite.duckdb")
            try:
                figures = measure(
                    {
                        "pytest, plugin off (-p no:hl_local)": lambda n: timed(
                            [*SUITE, "-p", "no:hl_local"], cwd=ROOT, env=env()
                        ),
                        "pytest, plugin inert": lambda n: timed(SUITE, cwd=ROOT, env=env()),
                        "pytest, plugin recording (HL_LOCAL_URL)": lambda n: timed(
                            SUITE, cwd=ROOT, env=env(HL_LOCAL_URL=url)
                        ),
                        "hl-local run -- pytest": lambda n: timed(
                            [*HL_LOCAL, "run", "--db", str(work / f"p{n}.duckdb"), "--", *SUITE],
                            cwd=ROOT,
                            env=env(),
                        ),
                    },
                    args.runs,
                )
            finally:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=60)
            report("tests/test_search.py", figures, "pytest, plugin off (-p no:hl_local)")


if __name__ == "__main__":
    main()
