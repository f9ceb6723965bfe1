"""Highlight's SDKs whose toolchains this machine lacks, as requests built to the shapes they send.

No Go, Ruby, Elixir, Java, .NET or PHP toolchain is here, so each request below is built by hand to
the shape its SDK produces, from what is known of it (and said at each builder): the protobuf OTLP
their exporters send, their resource attributes, their span and event names, their stacks as their
languages print them. Likewise the deprecated `PushPayload` of LaunchDarkly's mobile SDKs, whose
replay is screenshots. Where a shape comes from:

* Go (`highlight-go`; shared/docs/otlp-and-backend-sdks.md 2.4): OTLP/HTTP protobuf, gzip; the
  middleware's span per request with `highlight.session_id`/`highlight.trace_id` and the request id
  reused as the trace id; the logrus hook's `highlight.go.log` span with a `log` event
  (`log.severity` in upper case, `log.message`, `code.*`); `H.RecordError` as a `highlight.error`
  span (kind CLIENT) with an `exception` event and a pkg/errors `%+v` stack.
* Ruby (`highlight-ruby`): OTel Ruby's protobuf exporter; its logger as a `highlight.log` span with
  a `log` event, `record_exception` with Ruby's `full_message` stack.
* Elixir (`highlight_elixir`): span events named after the log message, with `log.severity`.
* Java, .NET, PHP (`highlight-java`, `Highlight.ASPCore`, `highlight/php-sdk`): their OpenTelemetry
  SDKs with Highlight's attributes: `highlight.session_id` on spans and log records, log records
  with severity text, exceptions as `exception` events with each language's stack printout.
* Mobile (`PushPayload`): LaunchDarkly's Android/iOS session replay sends the legacy uncompressed
  push, events as rrweb JSON whose frames are images: a snapshot with an `<img>` of the screen,
  then attribute mutations swapping its `src`. Built here to that description; no mobile SDK source
  was read.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.conftest import Server, start_server
from tests.launchdarkly_session import get

SESSION = "GoSessionAbcdefghijklmnopqrs"  # 28 characters, as the browser SDK makes them
REQUEST = "5b8efff798038103d269b633813fc60c"  # the browser's request id: its fetch span's trace id
NOW_NS = 1_795_000_000_000_000_000
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nframe").decode()


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def attrs(**values: object) -> list[KeyValue]:
    return [kv(k.replace("__", "."), v) for k, v in values.items()]


def resource(service: str, language: str, **extra: object) -> Resource:
    return Resource(attributes=[
        kv("service.name", service), kv("telemetry.sdk.language", language), kv("highlight.project_id", "1"),
        *attrs(**extra),
    ])  # fmt: skip


def span(trace_id: str, span_id: str, name: str, at_ns: int, events: list[Span.Event] | None = None,
         kind: int = 2, **attributes: object) -> Span:  # fmt: skip
    return Span(
        trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex(span_id), name=name, kind=kind,
        start_time_unix_nano=at_ns, end_time_unix_nano=at_ns + 5_000_000, attributes=attrs(**attributes),
        events=events or [],
    )  # fmt: skip


def event(name: str, at_ns: int, **attributes: object) -> Span.Event:
    return Span.Event(name=name, time_unix_nano=at_ns, attributes=attrs(**attributes))


def traces(res: Resource, scope: str, *spans: Span) -> bytes:
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=res, scope_spans=[ScopeSpans(spans=list(spans))])]
    )
    request.resource_spans[0].scope_spans[0].scope.name = scope
    return request.SerializeToString()


def logs(res: Resource, *records: LogRecord) -> bytes:
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=res, scope_logs=[ScopeLogs(log_records=list(records))])]
    ).SerializeToString()


def post(server: Server, path: str, body: bytes, gzipped: bool = False) -> None:
    headers = {"content-type": "application/x-protobuf", **({"content-encoding": "gzip"} if gzipped else {})}
    content = gzip.compress(body) if gzipped else body
    reply = httpx.post(f"{server.otlp_http_url}{path}", content=content, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text


def graphql(server: Server, operation: str, query: str, variables: dict[str, Any]) -> Any:
    body = {"operationName": operation, "query": query, "variables": variables}
    reply = httpx.post(f"{server.ui_url}/public", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    assert "errors" not in reply.json(), reply.text
    return reply.json()["data"]


def browser_session(server: Server) -> None:
    """A browser session whose push recorded the request the Go backend served (its request id)."""
    graphql(server, "initializeSession", "mutation initializeSession { initializeSession }", {
        "session_secure_id": SESSION, "organization_verbose_id": "1", "clientVersion": "10.7.5",
        "serviceName": "shop-web", "environment": "test",
    })  # fmt: skip
    start_ms = NOW_NS / 1e6
    resources = {"resources": [{
        "initiatorType": "fetch", "name": "http://localhost:8080/api/checkout", "startTimeAbs": start_ms,
        "responseEndAbs": start_ms + 20,
        "requestResponsePairs": {
            "request": {"id": REQUEST, "url": "http://localhost:8080/api/checkout", "verb": "POST",
                        "headers": {"X-Highlight-Request": f"{SESSION}/{REQUEST}"}, "body": "{}"},
            "response": {"status": 500, "headers": {}, "body": "", "size": 0},
        },
    }]}  # fmt: skip
    payload = {
        "events": {"events": [{"type": 4, "data": {"href": "http://localhost:8080/", "width": 800,
                                                   "height": 600}, "timestamp": start_ms - 500, "_sid": 1}]},
        "messages": json.dumps({"messages": []}), "resources": json.dumps(resources),
        "web_socket_events": json.dumps({"webSocketEvents": []}), "errors": [],
    }  # fmt: skip
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    graphql(server, "PushSessionEvents", "mutation PushSessionEvents { pushSessionEvents }",
            {"session_secure_id": SESSION, "payload_id": "1", "data": data})  # fmt: skip


@pytest.fixture(scope="module")
def shaped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("shapes") / "hl.duckdb")
    try:
        browser_session(server)
        yield server
    finally:
        server.stop()


def items(server: Server, path: str, **params: Any) -> list[Any]:
    found: list[Any] = get(server.ui_url, path, **params)["items"]
    return found


GO_STACK = (
    "\nmain.chargeCard\n\t/home/dev/shop/pay.go:31\nmain.checkout\n\t/home/dev/shop/main.go:52\n"
    "net/http.HandlerFunc.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:2166"
)


def test_go(shaped: Server) -> None:
    """The request id is the trace id; a logrus line; a recorded error: all the session's."""
    res = resource("shop-go", "go", deployment__environment="test")
    session_attrs = {"highlight__session_id": SESSION, "highlight__trace_id": REQUEST}
    request = span(REQUEST, "1111111111111111", "POST /api/checkout", NOW_NS, highlight__source="go.chi",
                   http__method="POST", **session_attrs)  # fmt: skip
    log = span(REQUEST, "2222222222222222", "highlight.go.log", NOW_NS + 1_000_000, kind=1, events=[
        event("log", NOW_NS + 1_000_000, log__severity="WARN", log__message="card retry 2",
              code__function="main.chargeCard", code__lineno=30),
    ], **session_attrs)  # fmt: skip
    error = span(REQUEST, "3333333333333333", "highlight.error", NOW_NS + 2_000_000, kind=3, events=[
        event("exception", NOW_NS + 2_000_000, exception__type="*errors.fundamental",
              exception__message="card declined", exception__stacktrace=GO_STACK),
    ], **session_attrs)  # fmt: skip
    post(shaped, "/v1/traces", traces(res, "highlight-go", request, log, error), gzipped=True)

    spans = {s["name"] for s in items(shaped, "/api/spans", query="service_name=shop-go")}
    assert spans == {"POST /api/checkout", "highlight.error"}  # the log wrapper is not listed
    network = items(shaped, f"/api/sessions/{SESSION}/network")
    assert [n["backend_trace_id"] for n in network] == [REQUEST]  # the recorded request → Go's trace
    lines = {line["body"]: line["level"] for line in items(shaped, f"/api/sessions/{SESSION}/logs")}
    assert lines["card retry 2"] == "warn" and lines["card declined"] == "error"
    (err,) = [e for e in items(shaped, f"/api/sessions/{SESSION}/errors") if e["service_name"] == "shop-go"]
    assert (err["message"], err["frames"][0]["function"], err["frames"][0]["line"]) == (
        "card declined",
        "main.chargeCard",
        31,
    )


def test_ruby_elixir_java_dotnet_php(shaped: Server) -> None:
    """Each language's log lines and errors, with its stack parsed, linked to the session by its id."""
    cases = {  # service → (language, exception type, stack, file and line of frame 0)
        "shop-ruby": ("ruby", "RuntimeError",
                      "/app/models/cart.rb:42:in 'total': cart empty (RuntimeError)\n"
                      "\tfrom /app/app.rb:10:in 'call'",
                      ("/app/models/cart.rb", 42)),
        "shop-elixir": ("erlang", "RuntimeError",
                        "    (shop 0.1.0) lib/shop/cart.ex:42: Shop.Cart.total/1", (None, None)),
        "shop-java": ("java", "java.lang.IllegalStateException",
                      "java.lang.IllegalStateException: cart empty\n\tat com.shop.Cart.total(Cart.java:42)\n"
                      "\tat com.shop.Api.checkout(Api.java:17)", ("Cart.java", 42)),
        "shop-dotnet": ("dotnet", "System.InvalidOperationException",
                        "System.InvalidOperationException: cart empty\n"
                        "   at Shop.Cart.Total(Int32 n) in /src/Cart.cs:line 42", ("/src/Cart.cs", 42)),
        "shop-php": ("php", "RuntimeException", "#0 /app/src/Cart.php(42): Cart->total()\n#1 {main}",
                     ("/app/src/Cart.php", 42)),
    }  # fmt: skip
    for n, (service, (language, kind, stack, _)) in enumerate(cases.items(), start=1):
        trace_id, at = f"{n:032x}", NOW_NS + n * 10_000_000
        res = resource(service, language, deployment__environment="test")
        if service == "shop-elixir":  # the log event is named after its message
            log_event = event("cart empty for user 7", at, log__severity="error", code__function="total/1")
        else:
            log_event = event("log", at, log__severity="WARN", log__message=f"{service} cart empty")
        spans = [
            span(trace_id, f"{n:016x}", "POST /api/checkout", at, highlight__session_id=SESSION, events=[
                log_event,
                event("exception", at + 1, exception__type=kind, exception__message="cart empty",
                      exception__stacktrace=stack),
            ]),
        ]  # fmt: skip
        post(shaped, "/v1/traces", traces(res, service, *spans))
        if language in ("java", "dotnet", "php"):  # their logging bridges send log records
            record = LogRecord(time_unix_nano=at + 2, severity_text="Warning", severity_number=13,
                               body=AnyValue(string_value=f"{service} stock low"),
                               trace_id=bytes.fromhex(trace_id),
                               attributes=attrs(highlight__session_id=SESSION))  # fmt: skip
            post(shaped, "/v1/logs", logs(res, record))

    lines = {(line["service_name"], line["body"]): line["level"] for line in items(
        shaped, f"/api/sessions/{SESSION}/logs", limit=1000)}  # fmt: skip
    assert lines[("shop-elixir", "cart empty for user 7")] == "error"
    for service in ("shop-ruby", "shop-java", "shop-dotnet", "shop-php"):
        assert lines[(service, f"{service} cart empty")] == "warn", lines
    for service in ("shop-java", "shop-dotnet", "shop-php"):
        assert lines[(service, f"{service} stock low")] == "warn", lines
    errors = {e["service_name"]: e for e in items(shaped, f"/api/sessions/{SESSION}/errors")}
    for service, (_, kind, _, (file, line)) in cases.items():
        error = errors[service]
        assert (error["type"], error["message"], error["source"]) == (kind, "cart empty", "backend")
        top = error["frames"][0] if error["frames"] else {"file": None, "line": None}
        assert (top["file"], top["line"]) == (file, line), (service, error["frames"])


def test_mobile_push_payload(shaped: Server) -> None:
    """The legacy PushPayload with a mobile key as the project and screenshots as the replay."""
    session = "MobileSessionAbcdefghijklmno"
    reply = graphql(shaped, "initializeSession", "mutation initializeSession { initializeSession }", {
        "session_secure_id": session, "organization_verbose_id": "mob-0123abcd-4567-89ef-0123-456789abcdef",
        "clientVersion": "android-0.9.0", "serviceName": "shop-android", "environment": "test",
    })  # fmt: skip
    assert reply["initializeSession"]["project_id"] == "1"
    at_ms = NOW_NS // 1_000_000
    frame = f"data:image/png;base64,{PNG}"
    screen = {"type": 2, "tagName": "img", "attributes": {"src": frame, "width": "360"},
              "childNodes": [], "id": 5}  # fmt: skip
    document = {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "tagName": "html", "attributes": {}, "id": 2, "childNodes": [
            {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 3},
            {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [screen], "id": 4},
        ]},
    ]}  # fmt: skip
    events = [
        {"type": 4, "data": {"href": "app://shop/MainActivity", "width": 360, "height": 800},
         "timestamp": at_ms},
        {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": at_ms},
        {"type": 3, "data": {"source": 0, "texts": [], "removes": [], "adds": [],
                             "attributes": [{"id": 5, "attributes": {"src": frame + "2"}}]},
         "timestamp": at_ms + 1000},
        {"type": 5, "data": {"tag": "Navigate", "payload": "app://shop/CartActivity"},
         "timestamp": at_ms + 1500},
    ]  # fmt: skip
    graphql(shaped, "PushPayload", "mutation PushPayload { pushPayload }", {
        "session_secure_id": session, "payload_id": "1", "events": {"events": events},
        "messages": json.dumps({"messages": [{"type": "warn", "value": ["low memory"], "time": at_ms + 10}]}),
        "resources": json.dumps({"resources": []}), "errors": [], "is_beacon": False,
    })  # fmt: skip
    detail = get(shaped.ui_url, f"/api/sessions/{session}")
    assert (detail["project_id"], detail["service_name"], detail["page_count"]) == (
        "mob-0123abcd-4567-89ef-0123-456789abcdef",
        "shop-android",
        1,
    )
    reply = httpx.get(f"{shaped.ui_url}/api/sessions/{session}/events", timeout=10)
    assert reply.status_code == 200
    stored = reply.json()
    assert [e["type"] for e in stored] == [4, 2, 3, 5]  # as sent, in order: the player shows the images
    assert stored[1]["data"]["node"]["childNodes"][0]["childNodes"][1]["childNodes"][0]["tagName"] == "img"
    assert [c["body"] for c in items(shaped, f"/api/sessions/{session}/console")] == ["low memory"]
