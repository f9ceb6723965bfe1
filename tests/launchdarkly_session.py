"""What a LaunchDarkly browser session recorded into hl-local must look like, through the API.

Shared by the live test (tests/test_launchdarkly_browser.py: the real SDKs in Chromium) and the
replay of its recorded requests (tests/test_launchdarkly_replay.py), so both check the same things:
the session looks as a `highlight.run` session does (tests/test_browser_live.py), though its console,
network requests and errors came as OTLP spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.api_schema import conforms

Json = Any

CLIENT_SIDE_ID = "6527f0c3a1b2c3d4e5f60718"  # a LaunchDarkly client-side id: the project id the SDK sends
CHECKOUT_BODY = {"name": "Alice", "items": 2}
CHECKOUT_REPLY = {"order_id": "order-4711", "items": 2}

# (severity_text, level, body) of every console line: the page's and the plugin's own LD.identify
EXPECTED_CONSOLE = [
    ("info", "info", "LD.identify"),
    ("log", "info", "ld log message 42"),
    ("warn", "warn", "ld warn message"),
    ("error", "error", "ld error message"),
    ("Error", "error", "Uncaught Error: ld uncaught boom"),
]


@dataclass
class Expected:
    session_id: str
    app_url: str  # the recorded page's origin
    trace_id: str  # of the checkout request (its traceparent)
    client: str  # "v3" or "v4"


def get(base: str, path: str, **params: Any) -> Json:
    reply = httpx.get(base + path, params=params, timeout=10)
    assert reply.status_code == 200, (path, params, reply.text)
    return conforms(reply)


def check_session(base: str, expected: Expected) -> None:
    """Every part of the session a user looks at, as `/api` answers it."""
    sid = expected.session_id
    session = get(base, f"/api/sessions/{sid}")
    assert session["project_id"] == CLIENT_SIDE_ID
    assert (session["service_name"], session["environment"]) == ("ld-live-test", "test")
    assert session["error_count"] == 2  # from the exception events: the pushes carry none
    assert session["sdk_version"] == "10.7.5"  # the highlight.run inside @launchdarkly/session-replay

    console = get(base, f"/api/sessions/{sid}/console")["items"]
    assert sorted((c["severity_text"], c["level"], c["body"]) for c in console) == sorted(EXPECTED_CONSOLE)
    logged = next(c for c in console if c["body"] == "ld log message 42")
    assert logged["frames"] and logged["frames"][0]["file"].startswith(expected.app_url)

    errors = {e["type"]: e for e in get(base, f"/api/sessions/{sid}/errors")["items"]}
    assert set(errors) == {"window.onerror", "custom"}, errors
    uncaught, consumed = errors["window.onerror"], errors["custom"]
    assert (uncaught["message"], uncaught["source"], uncaught["url"]) == (
        "Uncaught Error: ld uncaught boom",
        "frontend",
        f"{expected.app_url}/",
    )
    top = uncaught["frames"][0]
    assert (top["function"], top["file"]) == ("boom", f"{expected.app_url}/")
    assert uncaught["offset_ms"] is not None and uncaught["offset_ms"] >= 0  # placed on the replay
    assert consumed["message"] == "while paying:consumed boom"
    assert consumed["payload"]["orderId"] == "42"
    assert (consumed["service_name"], consumed["environment"]) == ("ld-live-test", "test")

    network = get(base, f"/api/sessions/{sid}/network")["items"]
    checkout = [n for n in network if n["url"] == f"{expected.app_url}/api/checkout"]
    assert len(checkout) == 1, network
    (request,) = checkout
    assert (request["method"], request["status"], request["initiator_type"]) == ("POST", 200, "fetch")
    assert request["trace_id"] == expected.trace_id
    assert request["request_body"] == CHECKOUT_BODY  # JSON bodies are JSON in the answer
    assert request["response_body"] == CHECKOUT_REPLY
    assert request["request_headers"]["content-type"] == "application/json"
    assert request["response_headers"]["content-type"] == "application/json"

    markers = get(base, f"/api/sessions/{sid}/timeline")["items"]
    flags = {m["detail"]["flag_key"]: m for m in markers if m["kind"] == "flag"}
    assert set(flags) == {"new-checkout", "banner-text"}, markers
    assert flags["new-checkout"]["label"] == "new-checkout = true"
    assert flags["banner-text"]["detail"]["value"] == "hello"
    assert flags["new-checkout"]["detail"]["context_id"] == "user-key-7"
    # the replay plugin's pushes carry the track call (the span is left out: not twice), without
    # the plugin's own $ld: events
    (track,) = [m for m in markers if m["kind"] == "track"]
    assert track["label"] == "checkout-started"
    assert track["detail"]["payload"]["data"] == {"amount": 10}
    assert sum(m["kind"] == "error" for m in markers) == 2

    # "which flag value did this broken session see" is one search, and the trace of the evaluation too
    def found(query: str) -> list[str]:
        return [s["session_id"] for s in get(base, "/api/sessions", query=query)["items"]]

    assert sid in found("has_errors=true feature_flag.key=new-checkout")
    assert sid in found("feature_flag.key=banner-text feature_flag.result.value=hello")
    assert sid not in found("feature_flag.key=no-such-flag")
    assert sid not in found("feature_flag.key!=new-checkout")
    traces = get(base, "/api/traces", query="feature_flag.key=new-checkout")["items"]
    assert any(t["session_id"] == sid for t in traces), traces
