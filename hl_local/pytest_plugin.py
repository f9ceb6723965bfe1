"""hl-local's pytest plugin: each test a span, the test's own telemetry its child, and a fixture
that waits for telemetry to arrive.

Registered with the `pytest11` entry point, so pytest loads it wherever hl-local is installed, and
it does nothing (an option and an environment lookup) unless the run is under `hl-local run`
(which sets HL_LOCAL_URL) or was given `--hl-local`. `-p no:hl_local` turns it off altogether.

When on (pytest_recorder.py does the work):

- every test is a span named by its node id, with the OpenTelemetry semantic-convention
  attributes `test.case.name`, `test.case.result.status` (`pass`, `fail`, `skipped`),
  `test.suite.name`, `code.file.path`, `code.line.number` and `code.function.name`; a failure
  is the span's error status and an `exception` event (so hl-local shows it as an error, with its
  stack);
- the span is the current span while the test runs, so what the test's code records through the
  OpenTelemetry API is its child; when nothing configured a global tracer provider by the first
  test, the plugin installs its own, which exports to hl-local;
- the `hl_local` fixture flushes the in-process SDK and waits for telemetry (`/api/wait`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hl_local.pytest_recorder import Recorder, TestTelemetry

DEFAULT_URL = "http://127.0.0.1:8082"  # `hl-local` started with its default ports
RECORDER = "hl_local_recorder"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hl-local", "hl-local: tests as spans, telemetry to wait for")
    group.addoption(
        "--hl-local",
        action="store_true",
        default=False,
        help="record every test as a span in hl-local (on by itself under `hl-local run`)",
    )
    group.addoption(
        "--hl-local-url",
        metavar="URL",
        default=None,
        help=f"the hl-local to send to (default: $HL_LOCAL_URL, else {DEFAULT_URL}); implies --hl-local",
    )


def pytest_configure(config: pytest.Config) -> None:
    url = config.getoption("hl_local_url") or os.environ.get("HL_LOCAL_URL")
    if not (url or config.getoption("hl_local")):
        return
    from hl_local.pytest_recorder import Recorder  # the OpenTelemetry SDK: only when recording

    config.pluginmanager.register(Recorder(url or DEFAULT_URL), RECORDER)


@pytest.fixture
def hl_local(request: pytest.FixtureRequest) -> TestTelemetry:
    """This test's telemetry in hl-local: `flush()`, `wait(signal, query, count, timeout_s)`, its
    `trace_id`. Skips the test when the plugin is not recording (not under `hl-local run`)."""
    recorder: Recorder | None = request.config.pluginmanager.get_plugin(RECORDER)
    if recorder is None:
        pytest.skip("hl-local is not recording this run: run it under `hl-local run`, or pass --hl-local")
    return recorder.telemetry_of(request.node)
