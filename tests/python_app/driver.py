"""Drives the real highlight-io Python SDK against hl-local; run by tests/test_highlight_python.py.

Runs in the test's own highlight-io venv (its OpenTelemetry pins clash with hl-local's), never
imported by pytest. Lines the test looks for in the stored stacks end with a `# raise:NAME`
comment; the test finds their numbers in this file.

    python driver.py ENDPOINT SESSION_ID REQUEST_ID           everything, then dies uncaught
    python driver.py ENDPOINT SESSION_ID REQUEST_ID --again   one more "payment declined"

Nothing here flushes by hand: highlight-io exports on its 5 s batch tick and when the
interpreter exits, so the test waits for this process to end.
"""

from __future__ import annotations

import logging
import sys

import highlight_io

log = logging.getLogger("driver")


def fail_order(number: int) -> None:
    raise ValueError(f"order {number} could not be saved")  # raise:same-site


def charge_card() -> None:
    raise RuntimeError("payment declined")  # raise:charge


def refund_card() -> None:
    raise RuntimeError("payment declined")  # raise:refund


def load_cart() -> None:
    raise KeyError("cart-42")  # raise:logging-exception


def main() -> None:
    endpoint, session_id, request_id = sys.argv[1:4]
    again = "--again" in sys.argv[4:]
    H = highlight_io.H(
        "1",
        otlp_endpoint=endpoint,
        service_name="py-driver",
        service_version="v-test",
        environment="ci",
    )
    if again:
        with H.trace("again", session_id=session_id, request_id=request_id):
            try:
                charge_card()
            except RuntimeError as e:
                H.record_exception(e)
        return

    with H.trace("checkout", session_id=session_id, request_id=request_id, attributes={"cart.items": 3}):
        with H.tracer.start_as_current_span("db.query"), H.tracer.start_as_current_span("cache.lookup"):
            log.info("driver info %s", "cart:42")
        log.warning("driver warning")
        log.error("driver error")
        try:
            _ = 1 / 0  # raise:zero-division
        except ZeroDivisionError as e:
            H.record_exception(e, attributes={"order": {"id": 42}})
        try:
            load_cart()
        except KeyError:
            log.exception("cart could not be loaded")
        H.record_http_error(404, '{"detail":"Item not found"}')  # raise:http-error
        H.record_http_error(403, "Cart is locked")  # raise:http-error-2
        for number in (1, 2):
            try:
                fail_order(number)  # raise:same-site-caller
            except ValueError as e:
                H.record_exception(e)
        for declined in (charge_card, refund_card):
            try:
                declined()
            except RuntimeError as e:
                H.record_exception(e)

    with H.trace("worker", session_id=session_id, request_id=request_id + "-fatal"):
        raise RuntimeError("uncaught worker failure")  # raise:uncaught


if __name__ == "__main__":
    main()
