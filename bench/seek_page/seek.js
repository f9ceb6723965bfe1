// Bench page for bench/replay_seek.py: loads a session's events from hl-local's API into
// rrweb-player 2.1.6, reports the time to its first frame, then seeks on request.
import rrwebPlayer from "rrweb-player";

const params = new URLSearchParams(location.search);
const sid = params.get("session");
const keyframes = params.get("keyframes") === "true";
const firstMs = Number(params.get("first_ms"));
const headMs = Number(params.get("head_ms") || 0); // > 0: load the first head_ms, show, then the rest

async function events(query) {
  const reply = await fetch(`/api/sessions/${sid}/events?keyframes=${keyframes}${query}`);
  return reply.json();
}

function frame() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function iframeDoc(player) {
  return player.getReplayer().iframe.contentDocument;
}

async function painted(player) {
  // the first frame: the rebuilt page has a body with content, and the browser has painted it
  for (;;) {
    const body = iframeDoc(player)?.body;
    if (body && body.childElementCount > 0) break;
    await frame();
  }
  await frame();
}

async function open() {
  const head = await events(headMs > 0 ? `&to_ms=${firstMs + headMs}` : "");
  const fetched = performance.now();
  const player = new rrwebPlayer({
    target: document.getElementById("player"),
    props: { events: head, width: 1024, height: 576, autoPlay: false, showController: false },
  });
  await painted(player);
  const firstFrame = performance.now();
  let total = head.length;
  if (headMs > 0) {
    const rest = await events(`&from_ms=${firstMs + headMs + 1}`);
    const replayer = player.getReplayer();
    for (const event of rest) {
      if (event.timestamp > firstMs + headMs) {
        replayer.addEvent(event);
        total += 1;
      }
    }
  }
  window.player = player;
  return { fetched_ms: fetched, first_frame_ms: firstFrame, loaded_ms: performance.now(), events: total };
}

window.seek = async (offsetMs) => {
  const player = window.player;
  const started = performance.now();
  player.goto(offsetMs, false);
  const applied = performance.now();
  await frame();
  const clock = iframeDoc(player).getElementById("clock");
  return {
    sync_ms: applied - started,
    total_ms: performance.now() - started,
    clock: clock ? clock.textContent : null,
  };
};

window.opened = open();
