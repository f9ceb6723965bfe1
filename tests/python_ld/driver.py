"""LaunchDarkly's Python observability plugin (launchdarkly-observability) on the LaunchDarkly Python
server SDK, exporting to hl-local over OTLP/gRPC (tests/test_sdk_family.py).

    python driver.py OTLP_GRPC_ENDPOINT BACKEND_URL SESSION TRACEPARENT

The client reads its flags from a test data source (it never calls LaunchDarkly); the request
continues the browser's trace (its traceparent) and says its session, as Highlight's Python
integrations do from X-Highlight-Request.
"""

import logging
import sys

import ldclient
from ldclient import Context
from ldclient.config import Config
from ldclient.integrations.test_data import TestData
from ldobserve import ObservabilityConfig, ObservabilityPlugin, observe
from opentelemetry import context, propagate, trace
from opentelemetry._logs import get_logger_provider

otlp_endpoint, backend_url, session, traceparent = sys.argv[1:]

flags = TestData.data_source()
flags.update(flags.flag("new-checkout").variation_for_all(True))
plugin = ObservabilityPlugin(
    ObservabilityConfig(
        otlp_endpoint=otlp_endpoint,
        backend_url=backend_url,
        service_name="ld-python-test",
        environment="test",
    )
)
ldclient.set_config(
    Config(
        "sdk-00000000-1111-2222-3333-444444444444",
        update_processor_class=flags,
        send_events=False,
        diagnostic_opt_out=True,
        plugins=[plugin],
    )
)
client = ldclient.get()
token = context.attach(propagate.extract({"traceparent": traceparent}))
with observe.start_span("POST /api/checkout", attributes={"highlight.session_id": session}):
    on = client.variation("new-checkout", Context.builder("user-key-7").build(), False)
    logging.getLogger("shop").warning("ld python checkout flag %s", on)
    try:
        {}["cart"]  # at:ld-python
    except KeyError as error:
        observe.record_exception(error, {"orderId": "42"})
context.detach(token)
client.close()
trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]
get_logger_provider().shutdown()  # type: ignore[attr-defined]
