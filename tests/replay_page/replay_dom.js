// Test page for tests/test_replay_keyframes.py: replays rrweb events with rrweb-player 2.1.6's
// Replayer to a moment and serialises what the player's iframe then shows.
import rrwebPlayer from "rrweb-player";

const VALUE_TAGS = ["INPUT", "TEXTAREA", "SELECT"];

// Attributes as the page sees them; values, checked state and scroll positions as properties
// (a keyframe carries them in attributes, a recording sets the properties).
function serialise(node) {
  switch (node.nodeType) {
    case Node.TEXT_NODE:
      return ["#text", node.textContent];
    case Node.COMMENT_NODE:
      return ["#comment", node.textContent];
    case Node.DOCUMENT_TYPE_NODE:
      return ["#doctype", node.name];
    case Node.DOCUMENT_NODE:
      return ["#document", [...node.childNodes].map(serialise)];
    case Node.ELEMENT_NODE: {
      const attributes = [];
      for (const a of node.attributes) {
        if (a.name.startsWith("rr_") || a.name === "checked") continue;
        if (a.name === "value" && VALUE_TAGS.includes(node.tagName)) continue;
        let value = a.name === "style" ? node.style.cssText : a.value;
        if (a.name === "class") {
          // the player's hover emulation follows the mouse, which keyframes do not carry
          value = value.split(" ").filter((c) => c && c !== ":hover").join(" ");
          if (!value) continue;
        }
        attributes.push([a.name, value]);
      }
      attributes.sort();
      const state = {};
      if (VALUE_TAGS.includes(node.tagName)) state.value = node.value;
      if (node.tagName === "INPUT") state.checked = node.checked;
      if (node.scrollTop || node.scrollLeft) state.scroll = [node.scrollLeft, node.scrollTop];
      return [node.tagName, attributes, state, [...node.childNodes].map(serialise)];
    }
    default:
      return ["#other", node.nodeType];
  }
}

function frame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

window.load = (events) => {
  window.stream = events;
};

// from: -1 replays the recording alone from its start; otherwise the stream from that index (a
// keyframe's Meta) up to the moment.
window.replayTo = async (from, timestamp) => {
  const events =
    from < 0
      ? window.stream.filter((e) => !e.hl_keyframe)
      : window.stream.slice(from).filter((e) => e.timestamp < timestamp);
  const target = document.createElement("div");
  document.body.appendChild(target);
  const player = new rrwebPlayer({
    target,
    props: { events, width: 800, height: 600, autoPlay: false, showController: false },
  });
  const replayer = player.getReplayer();
  const deadline = performance.now() + 5000;
  while (!replayer.iframe.contentDocument?.body && performance.now() < deadline) await frame();
  replayer.pause(timestamp - events[0].timestamp);
  const doc = replayer.iframe.contentDocument;
  const view = replayer.iframe.contentWindow;
  const result = JSON.stringify({
    dom: serialise(doc),
    scroll: [view.scrollX, view.scrollY],
    size: [replayer.iframe.width, replayer.iframe.height],
  });
  player.$destroy();
  target.remove();
  return result;
};
