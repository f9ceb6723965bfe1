"""A long recorded session for the replay benchmarks: the real SDK's first page, kept busy for N minutes.

The session starts with what `highlight.run` 10.7.5 recorded in tests/fixtures/browser/main.jsonl
(its initializeSession, Meta and FullSnapshot, so the node ids and page are real), then continues
with synthetic pushes every 2 s in the SDK's payload format, as a dashboard page would record: a
clock ticking every second (text mutation), a feed that adds an item every second and drops the
oldest past 150, a 40-row table re-rendered every 12 s (remove + add), class and style-object
changes, typing into the page's inputs, document and element scrolls, mouse moves batched like
rrweb's (every 500 ms, 10 positions) with clicks, and Highlight's Performance custom event every
second. There is no second full snapshot: the SDK takes one only after 10 MB and 4 minutes.

`clock_at(ms)` gives the clock text the page shows at an offset, so a benchmark can check what a
seek rendered. Used by bench/replay_seek.py; `--minutes`/`--out` write the pushes to a file.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "browser" / "main.jsonl"
PUSH_MS = 2_000
CLOCK_ID = 100_001  # the clock's text node
TABLE_EVERY_S = 12  # brings 30 minutes to ~9 MB: just under the SDK's 10 MB for a second full snapshot
Json = dict[str, Any]


def _recorded() -> tuple[Json, list[Json]]:
    """main.jsonl's initializeSession body and the events of its first page (Meta + FullSnapshot)."""
    init: Json = {}
    events: list[Json] = []
    for line in FIXTURE.read_text().splitlines():
        record = json.loads(line)
        if record.get("operationName") == "initializeSession" and not init:
            init = record["body_json"]
        if record.get("operationName") == "PushSessionEvents" and not events:
            events = [e for e in record["decoded"]["payload"]["events"]["events"] if e["type"] in (2, 4)]
    return init, events


def clock_at(offset_ms: int) -> str:
    """The clock text shown `offset_ms` after the session start."""
    return f"uptime {offset_ms // 1000} s"


class _Page:
    """Node ids and state of the synthetic dashboard inside the recorded page's body (id 19)."""

    def __init__(self, start_ms: int, rng: random.Random) -> None:
        self.start, self.rng, self.sid, self.next_id = start_ms, rng, 100, 100_100
        self.feed: list[int] = []
        self.rows: list[int] = []
        self.mouse = (400.0, 300.0)

    def event(self, ms: int, kind: int, data: Json) -> Json:
        self.sid += 1
        return {"type": kind, "data": data, "timestamp": ms, "_sid": self.sid}

    def mutation(self, ms: int, **parts: list[Json]) -> Json:
        data = {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": [], **parts}
        return self.event(ms, 3, data)

    def element(self, tag: str, attributes: Json, node_id: int | None = None) -> Json:
        if node_id is None:
            self.next_id += 1
            node_id = self.next_id
        return {"type": 2, "tagName": tag, "attributes": attributes, "childNodes": [], "id": node_id}

    def text(self, value: str, node_id: int | None = None) -> Json:
        if node_id is None:
            self.next_id += 1
            node_id = self.next_id
        return {"type": 3, "textContent": value, "id": node_id}

    def setup(self, ms: int) -> Json:
        """The dashboard: clock, feed, table and a scrolling log box, appended to the body."""
        adds = [
            {"parentId": 19, "nextId": None, "node": self.element("div", {"id": "dash"}, 100_000)},
            {"parentId": 100_000, "nextId": None, "node": self.element("h2", {"id": "clock"}, 100_002)},
            {"parentId": 100_002, "nextId": None, "node": self.text(clock_at(0), CLOCK_ID)},
            {"parentId": 100_000, "nextId": None, "node": self.element("ul", {"id": "feed"}, 100_003)},
            {"parentId": 100_000, "nextId": None, "node": self.element("table", {"id": "grid"}, 100_004)},
            {"parentId": 100_000, "nextId": None,
             "node": self.element("div", {"id": "log", "style": "height: 120px; overflow: auto;"}, 100_005)},
        ]  # fmt: skip
        for n in range(60):
            line = self.element("div", {"class": "line"})
            adds += [
                {"parentId": 100_005, "nextId": None, "node": line},
                {"parentId": line["id"], "nextId": None, "node": self.text(f"log line {n}")},
            ]
        return self.mutation(ms, adds=adds)

    def tick(self, ms: int) -> list[Json]:
        """Everything the page records in the second starting at `ms`."""
        second = (ms - self.start) // 1000
        out = [self.mutation(ms, texts=[{"id": CLOCK_ID, "value": clock_at(ms - self.start)}])]
        item, label = self.element("li", {"class": "item"}), self.text(f"event {second}: order {second * 7}")
        adds = [
            {"parentId": 100_003, "nextId": self.feed[0] if self.feed else None, "node": item},
            {"parentId": item["id"], "nextId": None, "node": label},
        ]  # newest first
        self.feed.insert(0, item["id"])
        removes = [{"parentId": 100_003, "id": self.feed.pop()}] if len(self.feed) > 150 else []
        out.append(self.mutation(ms + 5, adds=adds, removes=removes))
        if second % 2 == 0:
            state = "busy" if second % 4 == 0 else "idle"
            style = {"width": f"{second % 100}%", "color": False if second % 6 == 0 else "rgb(0, 102, 68)"}
            out.append(self.mutation(ms + 10, attributes=[
                {"id": 100_000, "attributes": {"class": state}},
                {"id": 100_003, "attributes": {"style": style, "data-count": str(second)}},
            ]))  # fmt: skip
        if second % TABLE_EVERY_S == 0:
            out.append(self.table(ms + 20, second))
        for half in (0, 500):
            positions = []
            for step in range(10):
                x, y = self.mouse
                self.mouse = (
                    max(0.0, x + self.rng.uniform(-20, 20)),
                    max(0.0, y + self.rng.uniform(-15, 15)),
                )
                positions.append({"x": self.mouse[0], "y": self.mouse[1], "id": 19, "timeOffset": -50 * step})
            out.append(self.event(ms + half + 499, 3, {"source": 1, "positions": positions}))
        if second % 7 == 3:
            x, y = self.mouse
            out.append(self.event(ms + 300, 3, {"source": 2, "type": 2, "id": 41, "x": x, "y": y}))
        if second % 10 == 5:
            field_id = (31, 35, 39)[second // 10 % 3]
            typed = "*" * (second // 10 % 12 + 1)
            out.append(
                self.event(ms + 400, 3, {"source": 5, "text": typed, "isChecked": False, "id": field_id})
            )
        if second % 5 == 1:
            out.append(self.event(ms + 600, 3, {"source": 3, "id": 1, "x": 0, "y": (second * 13) % 400}))
            out.append(self.event(ms + 610, 3, {"source": 3, "id": 100_005, "x": 0, "y": (second * 7) % 900}))
        perf = {"jsHeapSizeLimit": 4294705152, "usedJSHeapSize": 9_000_000 + second, "fps": 60,
                "relativeTimestamp": (ms - self.start) / 1000}  # fmt: skip
        out.append(self.event(ms + 700, 5, {"tag": "Performance", "payload": json.dumps(perf)}))
        return out

    def table(self, ms: int, second: int) -> Json:
        removes = [{"parentId": 100_004, "id": row} for row in self.rows]
        self.rows, adds = [], []
        for n in range(40):
            row = self.element("tr", {"class": "odd" if n % 2 else "even"})
            self.rows.append(row["id"])
            adds.append({"parentId": 100_004, "nextId": None, "node": row})
            for column in (f"#{second}-{n}", f"{(second * 31 + n * 17) % 1000} units", "shipped"):
                cell = self.element("td", {})
                adds += [
                    {"parentId": row["id"], "nextId": None, "node": cell},
                    {"parentId": cell["id"], "nextId": None, "node": self.text(column)},
                ]
        return self.mutation(ms, adds=adds, removes=removes)


def payload(session_id: str, payload_id: str, events: list[Json]) -> Json:
    """A PushSessionEvents `data` object as the SDK builds it."""
    return {
        "session_secure_id": session_id,
        "payload_id": payload_id,
        "events": {"events": events},
        "messages": '{"messages":[]}',
        "resources": '{"resources":[]}',
        "web_socket_events": '{"webSocketEvents":[]}',
        "errors": [],
        "is_beacon": False,
        "has_session_unloaded": False,
    }


def push_body(session_id: str, payload_id: str, events: list[Json]) -> Json:
    plain = json.dumps(payload(session_id, payload_id, events), separators=(",", ":")).encode()
    return {
        "operationName": "PushSessionEvents",
        "query": "mutation PushSessionEvents($session_secure_id: String!, $payload_id: ID!, $data: String!) "
        "{\n  pushSessionEvents(session_secure_id: $session_secure_id, payload_id: $payload_id, "
        "data: $data)\n}",
        "variables": {
            "session_secure_id": session_id,
            "payload_id": payload_id,
            "data": base64.b64encode(gzip.compress(plain, compresslevel=1)).decode(),
        },
    }


def session(
    session_id: str, minutes: float, start_ms: int, seed: int = 7
) -> Iterator[tuple[Json, list[Json]]]:
    """(GraphQL body, its rrweb events): initializeSession first, then one push per 2 s of recording."""
    init, first = _recorded()
    yield {**init, "variables": {**init["variables"], "session_secure_id": session_id}}, []
    shift = start_ms - first[0]["timestamp"]
    opening = [{**e, "timestamp": e["timestamp"] + shift} for e in first]
    page = _Page(start_ms, random.Random(seed))
    events = [*opening, page.setup(opening[-1]["timestamp"] + 50)]
    end = start_ms + int(minutes * 60_000)
    begin = opening[-1]["timestamp"] + 1000
    for ms in range(begin, end, 1000):
        events += page.tick(ms)
        if (ms - begin) % PUSH_MS == PUSH_MS - 1000 or ms + 1000 >= end:
            payload_id = str(ms + 1000)
            yield push_body(session_id, payload_id, events), events
            events = []


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines of GraphQL bodies")
    args = parser.parse_args()
    count = size = 0
    with args.out.open("w") as out:
        for body, events in session("BenchLongSession000000000001", args.minutes, 1_795_000_000_000):
            out.write(json.dumps(body) + "\n")
            count += len(events)
            size += len(json.dumps(events, separators=(",", ":")))
    print(f"{count:,} events, {size / 2**20:.1f} MiB of rrweb JSON")


if __name__ == "__main__":
    main()
