"""A shop whose code traces itself through the OpenTelemetry API only, as application code does."""

from opentelemetry import trace

tracer = trace.get_tracer("shop")


def checkout(items: int) -> str:
    with tracer.start_as_current_span("checkout") as span:
        span.set_attribute("cart.items", items)
        if items > 2:
            raise KeyError("sku-missing")  # raise:checkout
        return "ok"


def test_checkout_passes(hl_local):
    assert checkout(1) == "ok"
    found = hl_local.wait("spans", "span_name=checkout", count=1, timeout_s=10)
    assert found.arrived, found
    assert [span["trace_id"] for span in found.items] == [hl_local.trace_id]


def test_checkout_fails():
    assert checkout(3) == "ok"


def test_not_today():
    import pytest

    pytest.skip("not today")
