"""Synthetic rrweb keyframes: the page as it was at a moment, so a player can seek without replaying
everything since the recording's last full snapshot.

rrweb's replayer seeks by slicing its events from the last Meta at or before the target and applying
everything from there synchronously. `highlight.run` takes a new full snapshot only after 10 MB and
4 minutes of events, so a long session may have a single one. `DomState` follows a recording the way
the replayer would (full snapshots, mutations, inputs, scrolls, viewport, stylesheet changes) on the
serialized node tree, and `Keyframer` emits, at the policy's intervals, a Meta + FullSnapshot of that
tree with the same node ids, followed by the state that lives outside the tree.

What a keyframe carries:
- the DOM, with input values, `checked` and element scroll positions folded into the node's
  attributes (`value`, `checked`, `rr_scrollLeft`/`rr_scrollTop`), as rrweb's own full snapshots do;
- the document's scroll position as the FullSnapshot's `initialOffset`, the last viewport size and
  URL in the Meta;
- stylesheet rule and declaration changes, adopted stylesheets, fonts, canvas mutations, custom
  elements (replayed in order), and the latest media state and selection, as incremental events.

Not carried: the mouse position. Every incremental event the player counts as a user interaction
(mouse, scroll, viewport, input) is left out on purpose: synthetic ones would stop the player's
"skip inactivity" from skipping anything longer than the keyframe interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

Node = dict[str, Any]
Event = dict[str, Any]

# rrweb event types and incremental sources
FULL_SNAPSHOT, INCREMENTAL, META = 2, 3, 4
MUTATION, SCROLL, VIEWPORT_RESIZE, INPUT, MEDIA = 0, 3, 4, 5, 7
STYLE_RULE, CANVAS, FONT, STYLE_DECLARATION, SELECTION, ADOPTED_STYLES, CUSTOM_ELEMENT = (
    8,
    9,
    10,
    13,
    14,
    15,
    16,
)
LOGGED_SOURCES = frozenset({STYLE_RULE, CANVAS, FONT, STYLE_DECLARATION, ADOPTED_STYLES, CUSTOM_ELEMENT})
DOCUMENT, ELEMENT, TEXT = 0, 2, 3
VALUE_TAGS = frozenset({"input", "textarea", "select"})

# Policy (bench/replay_seek.py): a keyframe once this long AND this many events since the last snapshot.
KEYFRAME_MS = 30_000
KEYFRAME_EVENTS = 300


@dataclass
class DomState:
    """The replayed page: the serialized node tree as rrweb would hold it after the events so far."""

    root: Node | None = None
    nodes: dict[int, Node] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    href: str = ""
    width: int = 0
    height: int = 0
    offset: dict[str, float] = field(default_factory=lambda: {"left": 0, "top": 0})
    logged: list[Event] = field(default_factory=list)  # state changes replayed after the snapshot
    media: dict[int, Event] = field(default_factory=dict)
    selection: Event | None = None

    # ------------------------------------------------------------ events

    def apply(self, event: Event) -> None:
        kind, data = event.get("type"), event.get("data")
        if not isinstance(data, dict):
            return
        if kind == META:
            self.href = data.get("href", self.href)
            self.width, self.height = data.get("width", self.width), data.get("height", self.height)
        elif kind == FULL_SNAPSHOT:
            self.full_snapshot(data)
        elif kind == INCREMENTAL and self.root is not None:
            self.incremental(data)

    def full_snapshot(self, data: dict[str, Any]) -> None:
        node = data.get("node")
        if not isinstance(node, dict):
            return
        self.root, self.nodes, self.parent = node, {}, {}
        self.logged, self.media, self.selection = [], {}, None
        self._register(node, None)
        offset = data.get("initialOffset") or {}
        self.offset = {"left": offset.get("left", 0), "top": offset.get("top", 0)}

    def incremental(self, data: dict[str, Any]) -> None:
        source = data.get("source")
        if source == MUTATION:
            self.mutate(data)
        elif source == INPUT:
            self.input(data)
        elif source == SCROLL:
            self.scroll(data)
        elif source == VIEWPORT_RESIZE:
            self.width, self.height = data.get("width", self.width), data.get("height", self.height)
        elif source in LOGGED_SOURCES:
            self.logged.append(data)
        elif source == MEDIA and isinstance(data.get("id"), int):
            self.media[data["id"]] = data
        elif source == SELECTION:
            self.selection = data

    # ------------------------------------------------------------ mutations, in the replayer's order

    def mutate(self, data: dict[str, Any]) -> None:
        for remove in data.get("removes") or ():
            self.remove(remove.get("id"))
        waiting = [add for add in data.get("adds") or () if not self.add(add)]
        while waiting:  # parents or next siblings that arrived later in the same mutation
            still = [add for add in waiting if not self.add(add)]
            if len(still) == len(waiting):
                break  # the replayer drops these too
            waiting = still
        latest: dict[int, Any] = {}
        for text in data.get("texts") or ():
            latest[text.get("id")] = text.get("value")  # the replayer applies only the last per node
        for node_id, value in latest.items():
            self.text(node_id, value)
        for change in data.get("attributes") or ():
            self.attributes(change.get("id"), change.get("attributes") or {})

    def remove(self, node_id: int | None) -> None:
        node = self.nodes.get(node_id) if node_id is not None else None
        if node is None:
            return
        self._detach(node)
        self._forget(node)

    def add(self, add: dict[str, Any]) -> bool:
        """Insert one added node; False when its parent or next sibling is not there (yet)."""
        # ids are JSON values from the recording (None when absent), looked up as they are
        node, parent = add.get("node"), self.nodes.get(add.get("parentId"))  # type: ignore[arg-type]
        if not isinstance(node, dict) or parent is None or "childNodes" not in parent:
            return False
        previous_id, next_id = add.get("previousId"), add.get("nextId")
        if next_id not in (None, -1) and next_id not in self.nodes:
            return False
        if previous_id == -1 or next_id == -1:
            return True  # rrweb's legacy "missing node" protocol: not reproduced
        node = self._adopt(node)
        siblings: list[Node] = parent["childNodes"]
        previous = self.nodes.get(previous_id) if previous_id else None
        after = self._index(siblings, previous)
        follower = self.nodes.get(next_id) if next_id else None
        if after is not None and after + 1 < len(siblings):
            siblings.insert(after + 1, node)
        elif follower is not None and (before := self._index(siblings, follower)) is not None:
            siblings.insert(before, node)
        else:
            if parent.get("type") == DOCUMENT and node.get("type") in (ELEMENT, 1):
                self._replace_document_child(parent, node)
            siblings.append(node)
        self.parent[node["id"]] = parent["id"]
        return True

    def text(self, node_id: int | None, value: Any) -> None:
        node = self.nodes.get(node_id) if node_id is not None else None
        if node is None:
            return
        if node.get("type") == ELEMENT:  # textContent on an element replaces its children
            for child in node.get("childNodes") or ():
                self._forget(child)
            node["childNodes"] = []
        else:
            node["textContent"] = value

    def attributes(self, node_id: int | None, changes: dict[str, Any]) -> None:
        node = self.nodes.get(node_id) if node_id is not None else None
        if node is None or node.get("type") != ELEMENT:
            return
        attrs: dict[str, Any] = node.setdefault("attributes", {})
        for name, value in changes.items():
            if value is None:
                attrs.pop(name, None)
            elif isinstance(value, dict) and name == "style":
                attrs["style"] = _restyle(attrs.get("style") or "", value)
            elif isinstance(value, str):
                attrs[name] = value

    # ------------------------------------------------------------ state outside mutations

    def input(self, data: dict[str, Any]) -> None:
        node = self.nodes.get(data.get("id"))  # type: ignore[arg-type]  # a JSON id, as add()
        if node is None or node.get("tagName") not in VALUE_TAGS:
            return
        attrs: dict[str, Any] = node.setdefault("attributes", {})
        if isinstance(data.get("text"), str):
            attrs["value"] = data["text"]
        if attrs.get("type") in ("checkbox", "radio"):
            if data.get("isChecked"):
                attrs["checked"] = True
            else:
                attrs.pop("checked", None)

    def scroll(self, data: dict[str, Any]) -> None:
        node = self.nodes.get(data.get("id"))  # type: ignore[arg-type]  # a JSON id, as add()
        if node is None:
            return
        x, y = data.get("x", 0), data.get("y", 0)
        if node.get("type") == DOCUMENT:
            self.offset = {"left": x, "top": y}
        elif node.get("type") == ELEMENT:
            attrs: dict[str, Any] = node.setdefault("attributes", {})
            attrs["rr_scrollLeft"], attrs["rr_scrollTop"] = x, y

    # ------------------------------------------------------------ the keyframe

    def keyframe(self, timestamp: float, sid: int) -> list[Event]:
        """Meta, FullSnapshot and the state outside the tree, all at `timestamp`; [] before any snapshot."""
        if self.root is None:
            return []
        base = {"timestamp": timestamp, "_sid": sid, "hl_keyframe": True}
        events = [
            {"type": META, "data": {"href": self.href, "width": self.width, "height": self.height}, **base},
            {"type": FULL_SNAPSHOT, "data": {"node": self.root, "initialOffset": self.offset}, **base},
        ]
        extra = [*self.logged, *self.media.values(), *([self.selection] if self.selection else [])]
        events += [{"type": INCREMENTAL, "data": data, **base} for data in extra]
        return events

    # ------------------------------------------------------------ the tree

    def _register(self, node: Node, parent_id: int | None) -> None:
        stack: list[tuple[Node, int | None]] = [(node, parent_id)]
        while stack:
            current, above = stack.pop()
            node_id = current.get("id")
            if not isinstance(node_id, int):
                continue
            self.nodes[node_id] = current
            if above is not None:
                self.parent[node_id] = above
            stack.extend((child, node_id) for child in current.get("childNodes") or ())

    def _forget(self, node: Node) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            node_id = current.get("id")  # a JSON id, as add(): the ignores below are for its None
            if self.nodes.get(node_id) is current:  # type: ignore[arg-type]
                del self.nodes[node_id]  # type: ignore[arg-type]
                self.parent.pop(node_id, None)  # type: ignore[arg-type]
            stack.extend(current.get("childNodes") or ())

    def _detach(self, node: Node) -> None:
        parent = self.nodes.get(self.parent.get(node["id"], -1))
        if parent is not None:
            siblings = parent.get("childNodes") or []
            if (at := self._index(siblings, node)) is not None:
                del siblings[at]

    def _adopt(self, node: Node) -> Node:
        """The node to insert: an id the page already has is moved (the replayer reuses an equal node
        with its children); otherwise the new node, with whatever children it came with."""
        existing = self.nodes.get(node["id"])
        if existing is not None:
            self._detach(existing)
            if _same_meta(existing, node):
                return existing
            self._forget(existing)
        node.setdefault("childNodes", []) if node.get("type") in (DOCUMENT, ELEMENT) else None
        self._register(node, None)
        return node

    def _replace_document_child(self, document: Node, node: Node) -> None:
        """A new <html> or doctype replaces the document's old one, as in the replayer."""
        for child in list(document["childNodes"]):
            if child.get("type") == node.get("type"):
                document["childNodes"].remove(child)
                self._forget(child)

    @staticmethod
    def _index(siblings: list[Node], node: Node | None) -> int | None:
        if node is None:
            return None
        for at, sibling in enumerate(siblings):
            if sibling is node:
                return at
        return None


def _same_meta(a: Node, b: Node) -> bool:
    """rrweb's isNodeMetaEqual, roughly: same type and tag or text."""
    keys = ("type", "tagName", "textContent", "name")
    return all(a.get(k) == b.get(k) for k in keys)


def _restyle(css: str, changes: dict[str, Any]) -> str:
    """Apply rrweb's style-object attribute change (property → value, [value, priority] or False)."""
    declarations: dict[str, str] = {}
    for part in _declarations(css):
        name, _, value = part.partition(":")
        if name.strip() and value.strip():
            declarations[name.strip().lower()] = value.strip()
    for name, value in changes.items():
        if value is False:
            declarations.pop(name, None)
        elif isinstance(value, list) and value:
            priority = f" !{value[1]}" if len(value) > 1 and value[1] else ""
            declarations.pop(name, None)
            declarations[name] = f"{value[0]}{priority}"
        elif isinstance(value, str):
            declarations.pop(name, None)
            declarations[name] = value
    return " ".join(f"{name}: {value};" for name, value in declarations.items())


def _declarations(css: str) -> list[str]:
    """Split a style attribute on the semicolons that are not inside quotes or parentheses."""
    parts, depth, quote, start = [], 0, "", 0
    for at, char in enumerate(css):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            parts.append(css[start:at])
            start = at + 1
    parts.append(css[start:])
    return parts


@dataclass
class Keyframer:
    """Follows a session's events in order and says where to insert keyframes.

    `feed` takes the events of one chunk (already in order) and returns them with keyframes
    inserted, as (key, synthetic) pairs: a key is (timestamp, _sid), synthetic events are encoded.
    """

    state: DomState = field(default_factory=DomState)
    interval_ms: int = KEYFRAME_MS
    min_events: int = KEYFRAME_EVENTS
    last_snapshot_ms: float | None = None  # of the last real or synthetic snapshot
    events_since: int = 0
    last_key: tuple[float, int] | None = None

    def due(self, timestamp: float) -> bool:
        return (
            self.last_snapshot_ms is not None
            and self.last_key is not None
            and timestamp > self.last_key[0]  # a keyframe follows every event of its millisecond
            and self.events_since >= self.min_events
            and self.last_key[0] - self.last_snapshot_ms >= self.interval_ms
        )

    def emit(self) -> tuple[tuple[float, int], bytes]:
        """The keyframe after the last event fed, encoded as a comma-joined run of JSON objects."""
        assert self.last_key is not None
        timestamp, sid = self.last_key
        events = self.state.keyframe(timestamp, sid)
        self.last_snapshot_ms, self.events_since = timestamp, 0
        return self.last_key, b",".join(_encoder.encode(e) for e in events)

    def step(self, event: Event, key: tuple[float, int]) -> None:
        """Apply one event (the caller asked `due` first)."""
        self.state.apply(event)
        if event.get("type") == FULL_SNAPSHOT:
            self.last_snapshot_ms, self.events_since = key[0], 0
        else:
            self.events_since += 1
        self.last_key = key


_encoder = msgspec.json.Encoder()
