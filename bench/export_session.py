"""Export benchmark: the 30-minute session of bench/replay_session.py, exported as each format.

The session goes in through /public (as bench/replay_seek.py does it), then `hl-local export
--session` runs as users run it, once per format and run: wall time of the whole command, the
export's own time (its summary line), and the output's size. Baselines measured in the same run:
copying the whole database file, and the session's rrweb events gzip-compressed alone (the floor
for compressed events), with and without the keyframes the events stream adds.

    .venv/bin/python bench/export_session.py --runs 5 [--minutes 30]
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench.replay_ingest import start_server
from bench.replay_seek import SESSION_ID, ingest

FORMATS = {"duckdb": "out.duckdb", "html": "out.html", "otlp-json": "out.jsonl.gz", "parquet": "parquet"}
MiB = 2**20


def export_once(db: Path, folder: Path, fmt: str) -> dict[str, float]:
    out = folder / FORMATS[fmt]
    args = [sys.executable, "-m", "hl_local", "export", "--db", str(db), "--session", SESSION_ID,
            "-o", str(out), "--force"] + (["--format", "parquet"] if fmt == "parquet" else [])  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    inner = float(re.search(r" in ([0-9.]+) s:", done.stdout).group(1))  # type: ignore[union-attr]
    size = sum(f.stat().st_size for f in out.rglob("*")) if out.is_dir() else out.stat().st_size
    return {"wall_s": wall, "export_s": inner, "mib": size / MiB}


def baselines(db: Path, folder: Path) -> dict[str, float]:
    started = time.perf_counter()
    shutil.copy(db, folder / "copy.duckdb")
    copy_s = time.perf_counter() - started
    process, _, _, url = start_server(db)
    try:
        with_keyframes = httpx.get(f"{url}/api/sessions/{SESSION_ID}/events", timeout=300).content
        plain = httpx.get(
            f"{url}/api/sessions/{SESSION_ID}/events", params={"keyframes": "false"}, timeout=300
        ).content
    finally:
        process.terminate()
        process.wait(timeout=60)
    started = time.perf_counter()
    packed = gzip.compress(with_keyframes, 6)
    gzip_s = time.perf_counter() - started
    return {
        "db_mib": db.stat().st_size / MiB,
        "copy_s": copy_s,
        "events_mib": len(plain) / MiB,
        "events_keyframes_mib": len(with_keyframes) / MiB,
        "gzip_events_mib": len(gzip.compress(plain, 6)) / MiB,
        "gzip_events_keyframes_mib": len(packed) / MiB,
        "gzip_s": gzip_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "bench.duckdb"
        made = ingest(db, args.minutes)
        print(
            f"session: {made['events']:,} events, {made['mib']:.1f} MiB of rrweb JSON, {args.minutes:g} min"
        )
        runs: list[dict[str, dict[str, float]]] = []
        for n in range(args.runs):
            run = {fmt: export_once(db, folder, fmt) for fmt in FORMATS}
            run["baseline"] = baselines(db, folder)
            runs.append(run)
            shown = [
                f"{fmt} {r['export_s']:.2f} s {r['mib']:.2f} MiB" for fmt, r in run.items() if fmt in FORMATS
            ]
            copy_s = run["baseline"]["copy_s"]
            print(f"  run {n + 1}: " + "; ".join(shown) + f"; copy of the file {copy_s:.2f} s", flush=True)
    print(f"\nmedians over {args.runs} runs:")
    base = {k: statistics.median(r["baseline"][k] for r in runs) for k in runs[0]["baseline"]}
    for fmt in FORMATS:
        wall = statistics.median(r[fmt]["wall_s"] for r in runs)
        inner = statistics.median(r[fmt]["export_s"] for r in runs)
        size = statistics.median(r[fmt]["mib"] for r in runs)
        ratio = inner / base["copy_s"]
        print(f"{fmt:10} export {inner:5.2f} s (command {wall:5.2f} s; x{ratio:.1f} a file copy), "
              f"{size:6.2f} MiB = {size * 1024 / args.minutes:6.1f} KiB per minute of recording")  # fmt: skip
    print(
        f"baseline: database file {base['db_mib']:.1f} MiB, copied in {base['copy_s']:.2f} s; events "
        f"{base['events_mib']:.2f} MiB ({base['events_keyframes_mib']:.2f} with keyframes), gzip -6 "
        f"{base['gzip_events_mib']:.2f} MiB ({base['gzip_events_keyframes_mib']:.2f} with keyframes, "
        f"{base['gzip_s']:.2f} s)"
    )


if __name__ == "__main__":
    main()
