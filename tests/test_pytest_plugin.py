"""The pytest plugin in real pytest processes: inert by default, what each test's span says, and a
suite's own tracer provider left as it configured it. (Under `hl-local run`: tests/test_run.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, clean_env, start_server, wait_until

PYTEST_INI = "[pytest]\npython_files = check_*.py\naddopts = -p no:cacheprovider\n"

INERT = """
import sys

def test_the_plugin_is_loaded_and_inert(request):
    assert request.config.pluginmanager.has_plugin("hl_local")
    assert not request.config.pluginmanager.has_plugin("hl_local_recorder")
    assert not [name for name in sys.modules if name.startswith("opentelemetry.sdk")]

def test_the_fixture_skips(hl_local):
    raise AssertionError("not reached")
"""

# A suite that configures its own tracer provider (an in-memory exporter it asserts on), as
# instrumentation tests do; and one test per outcome.
OWN_PROVIDER_CONFTEST = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exported = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exported))
trace.set_tracer_provider(provider)
"""
OUTCOMES = """
import pytest
from opentelemetry import trace

from conftest import exported, provider

def test_own_provider_is_kept_and_its_spans_are_children():
    assert trace.get_tracer_provider() is provider
    test_span = trace.get_current_span().get_span_context()
    with trace.get_tracer("app").start_as_current_span("own-work"):
        pass
    (span,) = [s for s in exported.get_finished_spans() if s.name == "own-work"]
    assert span.parent.span_id == test_span.span_id and span.context.trace_id == test_span.trace_id

def test_fails():
    assert 1 + 1 == 3

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_setup_error(broken):
    pass

class TestGroup:
    @pytest.mark.parametrize("n", [1])
    def test_in_a_class(self, n):
        pytest.skip("skipped on purpose")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("plugin") / "hl.duckdb")
    try:
        yield srv
    finally:
        srv.stop()


def pytest_in(project: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    project.mkdir()
    for name, text in {"pytest.ini": PYTEST_INI, **files}.items():
        (project / name).write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", *args],
        cwd=project, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_inert_without_hl_local_run(tmp_path: Path) -> None:
    result = pytest_in(tmp_path / "p", {"check_inert.py": INERT})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "hl-local is not recording this run" in result.stdout


def test_spans_of_each_outcome_and_the_suite_s_own_provider(tmp_path: Path, server: Server) -> None:
    files = {"conftest.py": OWN_PROVIDER_CONFTEST, "check_outcomes.py": OUTCOMES}
    result = pytest_in(tmp_path / "p", files, f"--hl-local-url={server.ui_url}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PASSED check_outcomes.py::test_own_provider_is_kept_and_its_spans_are_children" in result.stdout

    def test_spans() -> list[dict[str, Any]]:
        params = {"query": "test.case.name EXISTS", "limit": 100}
        items: list[dict[str, Any]] = httpx.get(
            f"{server.ui_url}/api/spans", params=params, timeout=30
        ).json()["items"]
        return items if len(items) >= 5 else []

    spans = {
        span["attributes"]["test.case.name"]: span for span in wait_until(test_spans, 30, "5 test spans")
    }
    status = {
        name.split("::", 1)[1]: span["attributes"]["test.case.result.status"] for name, span in spans.items()
    }
    assert status == {
        "test_own_provider_is_kept_and_its_spans_are_children": "pass",
        "test_fails": "fail",
        "test_expected_failure": "skipped",
        "test_setup_error": "fail",
        "TestGroup::test_in_a_class[1]": "skipped",
    }
    in_class = spans["check_outcomes.py::TestGroup::test_in_a_class[1]"]
    assert in_class["name"] == "check_outcomes.py::TestGroup::test_in_a_class[1]"
    assert in_class["attributes"]["test.suite.name"] == "check_outcomes.py::TestGroup"
    assert in_class["attributes"]["code.function.name"] == "test_in_a_class"
    assert in_class["attributes"]["code.file.path"] == "check_outcomes.py"
    assert isinstance(in_class["attributes"]["code.line.number"], int)
    assert in_class["parent_span_id"] == "", "each test is the root of its own trace"
    assert in_class["service_name"] == "pytest"

    failed = spans["check_outcomes.py::test_fails"]
    assert failed["status_code"] == 2 and failed["status_message"].startswith("AssertionError: assert")
    (event,) = failed["events"]
    assert event["name"] == "exception"
    stack = event["attributes"]["exception.stacktrace"]
    assert "check_outcomes.py" in stack and "_pytest" not in stack and "pluggy" not in stack, stack
    setup = spans["check_outcomes.py::test_setup_error"]
    assert setup["status_message"] == "RuntimeError: fixture broke"
    assert spans["check_outcomes.py::test_expected_failure"]["events"] == [], (
        "an expected failure is no error"
    )
