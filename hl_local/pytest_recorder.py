"""The pytest plugin at work (pytest_plugin.py turns it on): test spans, exported to hl-local over
OTLP/HTTP, and the `hl_local` fixture's flush-and-wait.

Test spans go through the plugin's own tracer provider (a batch processor, so a test costs no
request of its own), whatever provider the tests configure for their code: a suite asserting on an
in-memory exporter keeps it. The global provider is only set when none is set by the first test,
and only then does the test's code export through the plugin's.
"""

from __future__ import annotations

import json
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from hl_local import __version__

with warnings.catch_warnings():  # a suite run with -W error must not fail on the SDK's own imports
    warnings.simplefilter("ignore")
    import _pytest
    import pluggy
    from opentelemetry import context, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Span, Status, StatusCode

Signal = Literal["spans", "logs", "errors", "sessions"]
# what `wait` returns for each signal: the API list that shows those rows
_LISTS: dict[Signal, str] = {
    "spans": "/api/spans",
    "logs": "/api/logs",
    "errors": "/api/error-groups",  # the groups of the matching occurrences
    "sessions": "/api/sessions",
}
_INTERNAL = tuple(str(Path(module.__file__ or "").parent) for module in (_pytest, pluggy, pytest))
_STATUS = pytest.StashKey["_TestStatus"]()


@dataclass
class Waited:
    """What `/api/wait` said, and the matching rows (newest first, as the API lists them)."""

    arrived: bool
    count: int
    waited_ms: int
    items: list[dict[str, Any]]


@dataclass
class _TestStatus:
    span: Span
    started_ms: int
    status: str = "pass"
    failure_recorded: bool = False

    def add(self, report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
        if report.failed:
            self.status = "fail"
            if not self.failure_recorded:
                self.failure_recorded = True
                _record_failure(self.span, report, call)
        elif report.skipped and self.status != "fail":
            self.status = "skipped"  # skipped, or an expected failure (xfail)


def _record_failure(span: Span, report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    excinfo = call.excinfo
    if excinfo is None:  # e.g. a strict xfail that passed: a failure without an exception
        span.set_status(Status(StatusCode.ERROR, report.longreprtext.strip().splitlines()[0][:500]))
        return
    exc = excinfo.value
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {first}"[:500]))
    span.record_exception(exc, attributes={"exception.stacktrace": _test_traceback(exc)})


def _test_traceback(exc: BaseException) -> str:
    """The exception's traceback from the test's own frames on (pytest's and pluggy's cut off)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_INTERNAL):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


class Recorder:
    """The plugin's hooks while recording, registered by pytest_plugin.pytest_configure."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "pytest"}))  # OTEL_SERVICE_NAME wins
        self.provider = TracerProvider(resource=resource)
        # The UI port takes OTLP/HTTP too, so one URL serves both the spans and the waits.
        exporter = OTLPSpanExporter(endpoint=f"{self.url}/v1/traces", timeout=10)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("hl_local.pytest", __version__)
        self._global_checked = False

    def _install_global_provider(self) -> None:
        """At the first test, when nothing configured a global tracer provider, use this one."""
        if self._global_checked:
            return
        self._global_checked = True
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(self.provider)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        self._install_global_provider()
        span = self.tracer.start_span(item.nodeid, attributes=_test_attributes(item))
        item.stash[_STATUS] = _TestStatus(span, time.time_ns() // 1_000_000)
        token = context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            context.detach(token)
            span.set_attribute("test.case.result.status", item.stash[_STATUS].status)
            span.end()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        status = item.stash.get(_STATUS, None)
        if status is not None:
            status.add(outcome.get_result(), call)

    def pytest_sessionfinish(self) -> None:
        self.flush()
        self.provider.shutdown()

    def flush(self) -> None:
        """Export what the plugin's provider and the global one (when another) hold, and wait."""
        self.provider.force_flush()
        current = trace.get_tracer_provider()
        if current is not self.provider and hasattr(current, "force_flush"):
            current.force_flush()

    def telemetry_of(self, item: pytest.Item) -> TestTelemetry:
        status = item.stash[_STATUS]
        return TestTelemetry(self, format(status.span.get_span_context().trace_id, "032x"), status.started_ms)


def _test_attributes(item: pytest.Item) -> dict[str, str | int]:
    path, line, _domain = item.location
    attributes: dict[str, str | int] = {"test.case.name": item.nodeid, "code.file.path": path}
    if item.parent is not None and item.parent.nodeid:
        attributes["test.suite.name"] = item.parent.nodeid
    if line is not None:
        attributes["code.line.number"] = line + 1  # pytest counts lines from 0
    attributes["code.function.name"] = getattr(item, "originalname", None) or item.name
    return attributes


@dataclass
class TestTelemetry:
    """The `hl_local` fixture: this test's trace in hl-local, and waiting for telemetry there."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    recorder: Recorder
    trace_id: str  # the test span's trace: its in-process children share it
    started_ms: int
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = self.recorder.url

    def flush(self) -> None:
        """Send what this process has recorded to hl-local and wait until it is stored."""
        self.recorder.flush()

    def wait(
        self, signal: Signal, query: str = "", count: int = 1, timeout_s: float = 10.0, all_time: bool = False
    ) -> Waited:
        """Flush, then wait until at least `count` rows of `signal` match `query` (hl-local's search
        language), at most `timeout_s`; since this test started unless `all_time`. Returns what
        hl-local said and the matching rows (for `errors`: their error groups)."""
        self.flush()
        window = {} if all_time else {"start": str(self.started_ms)}
        wanted = {"signal": signal, "query": query, "count": str(count), "timeout_s": str(timeout_s)}
        answer = self._get("/api/wait", {**wanted, **window}, timeout_s + 10)
        rows = self._get(_LISTS[signal], {"query": query, "limit": "1000", **window}, 30)
        return Waited(bool(answer["arrived"]), int(answer["count"]), int(answer["waited_ms"]), rows["items"])

    def _get(self, path: str, params: dict[str, str], timeout_s: float) -> dict[str, Any]:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                answer: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:  # a query that does not parse: hl-local says where
            detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
            raise ValueError(f"hl-local refused {path}: {detail}") from None
        return answer
