"""Start-up benchmark: spawn → first `/health` 200 of the executable against the pip-installed script.

Run by hand (never in the test suite), after packaging/build-binary:

    .venv/bin/python bench/startup.py                       # dist/hl-local against .venv/bin/hl-local
    .venv/bin/python bench/startup.py --runs 9 --binary /path/to/hl-local --script /path/to/bin/hl-local

The two commands start in turns (so a burst of load on the shared machine hits both), each with a
fresh database file on ports picked free beforehand, polled every 5 ms from the moment of spawn;
each is stopped with SIGTERM before the next. The executable's cache is kept warm, as for every run
but a build's first; that first run (unpacking into an empty cache) is measured once beforehand.
Reported: medians, the spread, the difference and the ratio to the script measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_health(command: str, workdir: Path, env: dict[str, str]) -> float:
    """Seconds from spawn to the first 200 from /health; the process is stopped afterwards."""
    port = free_port()
    args = [command, "--no-open", "--db", str(workdir / f"{time.monotonic_ns()}.duckdb"), "--port", str(port),
            "--otlp-http-port", str(free_port()), "--otlp-grpc-port", str(free_port())]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except OSError:
                if process.poll() is not None:
                    raise SystemExit(f"{command} exited with {process.returncode} during start-up") from None
                time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "dist" / "hl-local"))
    parser.add_argument("--script", default=str(ROOT / ".venv" / "bin" / "hl-local"))
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HL_LOCAL_")}
        env["XDG_CACHE_HOME"] = str(workdir / "cache")
        first = time_to_health(args.binary, workdir, env)
        times: dict[str, list[float]] = {"script": [], "binary": []}
        for _ in range(args.runs):
            times["script"].append(time_to_health(args.script, workdir, env))
            times["binary"].append(time_to_health(args.binary, workdir, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        spread = f"min {min(values):.3f}, max {max(values):.3f}, {len(values)} runs"
        print(f"{name:7} median {medians[name]:.3f} s  ({spread})")
    print(f"binary's first run (unpacking into an empty cache): {first:.3f} s")
    diff = medians["binary"] - medians["script"]
    print(f"binary - script: {diff:+.3f} s; ratio {medians['binary'] / medians['script']:.2f}")


if __name__ == "__main__":
    main()
