"""A bound on how deeply a request may nest values: past it, a DecodeError instead of a crash.

JSON arrays and objects (OTLP/JSON, `/public` and the JSON inside a push) and OTLP `AnyValue`
trees are decoded and re-encoded recursively, by msgspec and by our own walk. Both stop at
Python's recursion limit with a RecursionError, which would otherwise surface as a 500. Real
SDKs nest a few levels (the browser SDK cuts console arguments at depth 4), so the limit is
never near what they send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from hl_local.errors import DecodeError

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def depth_bounded(what: str) -> Iterator[None]:
    """Turn a RecursionError inside the block into a DecodeError that says `what` nests too deeply."""
    try:
        yield
    except RecursionError:
        raise DecodeError(f"{what} nests arrays or objects too deeply") from None


def refuses_deep_nesting(what: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator form of `depth_bounded` for a decoder's entry point."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @wraps(fn)
        def bounded(*args: P.args, **kwargs: P.kwargs) -> T:
            with depth_bounded(what):
                return fn(*args, **kwargs)

        return bounded

    return decorate
