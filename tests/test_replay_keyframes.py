"""Synthetic keyframes (hl_local/replay): the mutation applier, the interval policy, the events stream's
`keyframes`, `from_ms` and `to_ms`, and, in a real browser, that rrweb-player 2.1.6 shows the same
page whether it replays a recording from its start or from a keyframe.

The server is fed through POST /public only: the real SDK's capture (main.jsonl, one minute: too
short for keyframes) and a 3-minute session from bench/replay_session.py (the same page, busy).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.replay_session import session as long_session
from hl_local.replay.cache import SessionKeyframes
from hl_local.replay.keyframes import DomState, Keyframer
from tests.conftest import Server, start_server
from tests.test_highlight_replay import Capture, send_all

Json = dict[str, Any]
LONG = "KeyframeLongSession00000001"
LONG_START = 1_795_000_000_000
WEB = Path(__file__).parent.parent / "web"
CHROMIUM = Path("/usr/bin/chromium")

# ---------------------------------------------------------------- the applier, on a small page


def page() -> DomState:
    """A document with <html><body id=10> holding a, b (ids 11, 13) with text children (12, 14)."""
    body = {"type": 2, "tagName": "body", "attributes": {}, "id": 10, "childNodes": [
        {"type": 2, "tagName": "p", "attributes": {"class": "a"}, "id": 11,
         "childNodes": [{"type": 3, "textContent": "a", "id": 12}]},
        {"type": 2, "tagName": "p", "attributes": {"style": "color: red; width: 1px;"}, "id": 13,
         "childNodes": [{"type": 3, "textContent": "b", "id": 14}]},
    ]}  # fmt: skip
    html = {"type": 2, "tagName": "html", "attributes": {}, "id": 2, "childNodes": [body]}
    state = DomState()
    state.apply({"type": 4, "data": {"href": "http://x/", "width": 800, "height": 600}, "timestamp": 1})
    state.apply({"type": 2, "data": {"node": {"type": 0, "id": 1, "childNodes": [html]},
                                      "initialOffset": {"left": 0, "top": 0}}, "timestamp": 1})  # fmt: skip
    return state


def mutation(**parts: list[Json]) -> Json:
    return {
        "type": 3,
        "data": {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": [], **parts},
    }


def element(node_id: int, tag: str = "i") -> Json:
    return {"type": 2, "tagName": tag, "attributes": {}, "childNodes": [], "id": node_id}


def children(state: DomState, node_id: int) -> list[int]:
    return [child["id"] for child in state.nodes[node_id]["childNodes"]]


def test_adds_follow_previous_and_next_siblings() -> None:
    state = page()
    state.apply(mutation(adds=[
        {"parentId": 10, "previousId": 11, "nextId": 13, "node": element(20)},  # between
        {"parentId": 10, "nextId": 11, "node": element(21)},  # before the first
        {"parentId": 10, "previousId": 13, "nextId": None, "node": element(22)},  # after the last
        {"parentId": 10, "nextId": None, "node": element(23)},  # appended
    ]))  # fmt: skip
    assert children(state, 10) == [21, 11, 20, 13, 22, 23]
    assert state.parent[20] == 10


def test_adds_wait_for_parents_and_next_siblings_later_in_the_mutation() -> None:
    state = page()
    state.apply(mutation(adds=[
        {"parentId": 30, "nextId": None, "node": {"type": 3, "textContent": "deep", "id": 31}},
        {"parentId": 10, "nextId": 32, "node": element(30, "div")},
        {"parentId": 10, "nextId": None, "node": element(32, "div")},
        {"parentId": 999, "nextId": None, "node": element(33)},  # no such parent: dropped, as rrweb does
    ]))  # fmt: skip
    assert children(state, 10) == [11, 13, 30, 32]
    assert children(state, 30) == [31] and 33 not in state.nodes


def test_remove_takes_the_subtree() -> None:
    state = page()
    state.apply(mutation(removes=[{"parentId": 10, "id": 11}]))
    assert children(state, 10) == [13]
    assert 11 not in state.nodes and 12 not in state.nodes
    state.apply(mutation(texts=[{"id": 12, "value": "gone"}], removes=[{"parentId": 10, "id": 11}]))
    assert 12 not in state.nodes  # changes to removed nodes are ignored


def test_texts_and_attributes() -> None:
    state = page()
    state.apply(mutation(
        texts=[{"id": 12, "value": "first"}, {"id": 12, "value": "last"}],
        attributes=[
            {"id": 11, "attributes": {"class": None, "title": "t"}},
            {"id": 13, "attributes": {"style": {"color": False, "width": ["2px", "important"], "top": "0"}}},
        ],
    ))  # fmt: skip
    assert state.nodes[12]["textContent"] == "last"
    assert state.nodes[11]["attributes"] == {"title": "t"}
    assert state.nodes[13]["attributes"]["style"] == "width: 2px !important; top: 0;"


def test_inputs_scrolls_and_viewport_fold_into_the_keyframe() -> None:
    state = page()
    state.apply(mutation(adds=[
        {"parentId": 10, "nextId": None, "node": {**element(40, "input"), "attributes": {"type": "text"}}},
        {"parentId": 10, "nextId": None,
         "node": {**element(41, "input"), "attributes": {"type": "checkbox"}}},
    ]))  # fmt: skip
    for data in ({"source": 5, "text": "**", "isChecked": False, "id": 40},
                 {"source": 5, "text": "on", "isChecked": True, "id": 41},
                 {"source": 3, "id": 13, "x": 0, "y": 50}, {"source": 3, "id": 1, "x": 0, "y": 300},
                 {"source": 4, "width": 1024, "height": 700},
                 {"source": 8, "id": 13, "adds": [{"rule": "p { color: blue }", "index": 0}]}):  # fmt: skip
        state.apply({"type": 3, "data": data})
    meta, full, *rest = state.keyframe(5000, 7)
    assert meta == {"type": 4, "data": {"href": "http://x/", "width": 1024, "height": 700},
                    "timestamp": 5000, "_sid": 7, "hl_keyframe": True}  # fmt: skip
    assert full["data"]["initialOffset"] == {"left": 0, "top": 300}
    assert state.nodes[40]["attributes"]["value"] == "**" and "checked" not in state.nodes[40]["attributes"]
    assert state.nodes[41]["attributes"]["checked"] is True
    assert state.nodes[13]["attributes"]["rr_scrollTop"] == 50
    assert [e["data"]["source"] for e in rest] == [8]  # no mouse, scroll or input: not interactions


def test_policy_needs_both_time_and_events() -> None:
    def keyframes(count: int, every_ms: int) -> int:
        keyframer, made = Keyframer(interval_ms=1000, min_events=10), 0
        state = page()
        keyframer.step({"type": 2, "data": {"node": state.root, "initialOffset": {}}}, (0, 1))
        for n in range(count):
            at = ((n + 1) * every_ms, n + 2)
            if keyframer.due(at[0]):
                keyframer.emit()
                made += 1
            keyframer.step({"type": 3, "data": {"source": 1, "positions": []}}, at)
        return made

    assert keyframes(5, 1000) == 0  # long enough, too few events
    assert keyframes(100, 1) == 0  # enough events, too short
    assert keyframes(100, 100) == 9  # every 10 events: 1,000 ms and 10 events since the last


# ---------------------------------------------------------------- the events stream


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, list[Json]]]:
    """A server with main.jsonl and the first 3 minutes of the long session (its last pushes kept back)."""
    server = start_server(tmp_path_factory.mktemp("keyframes") / "hl.duckdb")
    try:
        main = Capture.load("main")
        send_all(server, main)
        bodies = [body for body, _ in long_session(LONG, 3, LONG_START)]
        with httpx.Client(timeout=30) as client:
            for body in bodies[:-10]:
                assert client.post(f"{server.ui_url}/public", json=body).status_code == 200
        [main_id] = main.session_ids
        yield server, main_id, bodies[-10:]
    finally:
        server.stop()


def events(server: Server, session_id: str, **params: Any) -> list[Json]:
    reply = httpx.get(f"{server.ui_url}/api/sessions/{session_id}/events", params=params, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def recorded(got: list[Json]) -> list[Json]:
    return [e for e in got if not e.get("hl_keyframe")]


def test_short_sessions_get_no_keyframes(live: tuple[Server, str, list[Json]]) -> None:
    server, main_id, _ = live
    assert events(server, main_id) == events(server, main_id, keyframes="false")
    assert len(events(server, main_id)) == 202


def test_long_sessions_get_keyframes_between_their_events(live: tuple[Server, str, list[Json]]) -> None:
    server, _, _ = live
    stock, got = events(server, LONG, keyframes="false"), events(server, LONG)
    assert recorded(got) == stock and not any(e.get("hl_keyframe") for e in stock)
    metas = [i for i, e in enumerate(got) if e.get("hl_keyframe") and e["type"] == 4]
    assert len(metas) >= 2
    for i in metas:
        full = got[i + 1]
        assert full["type"] == 2 and full["hl_keyframe"] and full["timestamp"] == got[i]["timestamp"]
        assert (
            got[i - 1]["timestamp"]
            <= full["timestamp"]
            < next(e for e in got[i:] if not e.get("hl_keyframe"))["timestamp"]
        )
    stamps = [e["timestamp"] for e in got]
    assert stamps == sorted(stamps)


def test_from_ms_starts_at_the_keyframe_before_it(live: tuple[Server, str, list[Json]]) -> None:
    server, _, _ = live
    everything = events(server, LONG)
    frames = [e["timestamp"] for e in everything if e.get("hl_keyframe") and e["type"] == 4]
    from_ms = frames[1] + 5000
    got = events(server, LONG, from_ms=from_ms)
    at = next(i for i, e in enumerate(everything) if e.get("hl_keyframe") and e["timestamp"] == frames[1])
    assert got == everything[at:]
    assert got[0]["type"] == 4 and got[0]["hl_keyframe"]
    # without keyframes: from the recording's own Meta, as before
    assert (
        events(server, LONG, from_ms=from_ms, keyframes="false")[0]
        == events(server, LONG, keyframes="false")[0]
    )


def test_to_ms_ends_at_that_moment(live: tuple[Server, str, list[Json]]) -> None:
    server, _, _ = live
    everything = events(server, LONG)
    to_ms = everything[0]["timestamp"] + 100_000
    assert events(server, LONG, to_ms=to_ms) == [e for e in everything if e["timestamp"] <= to_ms]
    frames = [e["timestamp"] for e in everything if e.get("hl_keyframe") and e["type"] == 4]
    window = events(server, LONG, from_ms=frames[0] + 1, to_ms=frames[0] + 20_000)
    assert window[0]["timestamp"] == frames[0] and window[-1]["timestamp"] <= frames[0] + 20_000


def local_keyframes(server: Server, session_id: str) -> list[float]:
    """Keyframe times computed here over the stored chunks, in stream order, from nothing."""
    stock = events(server, session_id, keyframes="false")
    entry = SessionKeyframes()
    entry._cover((0, "all"), json.dumps(stock))
    return [key[0] for key in entry.starts]


def test_a_live_session_stays_correct(live: tuple[Server, str, list[Json]]) -> None:
    server, _, held = live
    before = events(server, LONG)  # fills the cache
    with httpx.Client(timeout=30) as client:
        for body in [*held[:-2], held[-1]]:  # the next pushes, one held back
            assert client.post(f"{server.ui_url}/public", json=body).status_code == 200
        extended = events(server, LONG)
        assert extended[: len(before)] == before and len(extended) > len(before)
        assert recorded(extended) == events(server, LONG, keyframes="false")
        assert client.post(f"{server.ui_url}/public", json=held[-2]).status_code == 200  # arrives late
    after = events(server, LONG)
    assert recorded(after) == events(server, LONG, keyframes="false")
    assert [e["timestamp"] for e in after if e.get("hl_keyframe") and e["type"] == 4] == local_keyframes(
        server, LONG
    )


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def replay_page() -> Iterator[Any]:
    esbuild = WEB / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists() or not CHROMIUM.exists() or shutil.which("node") is None:
        pytest.skip("needs `npm ci` in web/ and /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    script = subprocess.run(
        [str(esbuild), str(Path(__file__).parent / "replay_page" / "replay_dom.js"), "--bundle",
         "--format=iife"],
        capture_output=True, text=True, check=True, env={"NODE_PATH": str(WEB / "node_modules"), "PATH": ""},
    ).stdout  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"])
        page = browser.new_page()
        page.set_content("<!doctype html><body></body>")
        page.add_script_tag(content=script)
        yield page
        browser.close()


def compare_at_keyframes(page: Any, stream: list[Json], frames: list[int]) -> int:
    """For keyframes at `frames` (indexes of their Meta), the DOM at a moment after each, both ways."""
    page.evaluate("e => window.load(e)", stream)
    checked = 0
    for at in frames:
        later = [e for e in stream[at:] if not e.get("hl_keyframe")]
        moment = later[min(len(later) - 1, 40)]["timestamp"] + 1  # ~40 events after the keyframe
        from_start = page.evaluate("([i, t]) => window.replayTo(i, t)", [-1, moment])
        from_keyframe = page.evaluate("([i, t]) => window.replayTo(i, t)", [at, moment])
        assert json.loads(from_keyframe) == json.loads(from_start), f"keyframe at {stream[at]['timestamp']}"
        checked += 1
    return checked


def test_the_recorded_capture_replays_the_same_from_keyframes(
    live: tuple[Server, str, list[Json]], replay_page: Any
) -> None:
    """main.jsonl (two page loads, typing, a resize) with keyframes every second (the default policy
    leaves it alone), each checked against the replay from the recording's start."""
    server, main_id, _ = live
    recording = events(server, main_id, keyframes="false")
    keyframer, stream = Keyframer(interval_ms=1000, min_events=3), []
    for event in recording:
        key = (event["timestamp"], event.get("_sid") or 0)
        if keyframer.due(key[0]):
            stream += [json.loads(part) for part in _split(keyframer.emit()[1])]
        keyframer.step(copy.deepcopy(event), key)
        stream.append(event)
    frames = [i for i, e in enumerate(stream) if e.get("hl_keyframe") and e["type"] == 4]
    assert len(frames) >= 8
    picked = frames[:: max(1, len(frames) // 6)]  # spread over both pages
    assert compare_at_keyframes(replay_page, stream, picked[:6]) == len(picked[:6]) >= 5


def test_the_served_keyframes_replay_the_same(live: tuple[Server, str, list[Json]], replay_page: Any) -> None:
    server, _, _ = live
    stream = events(server, LONG)
    frames = [i for i, e in enumerate(stream) if e.get("hl_keyframe") and e["type"] == 4]
    assert compare_at_keyframes(replay_page, stream, [frames[-1]]) == 1


def _split(encoded: bytes) -> list[str]:
    return [json.dumps(e) for e in json.loads(b"[" + encoded + b"]")]
