"""hl_local.decode.stacks: stack strings from every SDK → frames (index 0 = raise site).

Two kinds of vectors: the 22 real stacks in fixtures/stacktrace-parse/frames.json, checked against
the frames Highlight's own parser produced for them (except where that parser is wrong, which is
asserted by hand), and hand-written stacks for each format and edge case.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from hl_local.decode.stacks import MAX_FRAMES, Frame, frames_from_objects, frames_to_json, parse_stack

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "stacktrace-parse" / "frames.json").read_text()
)

# --- the real vectors where Highlight's parser is wrong: our result, written by hand -------------

_APP = "/home/dev/app/drive_highlight_py.py"


def _format_stack_frames(venv: str, sdk_line: int) -> list[Frame]:
    # highlight-io's record_http_error sends traceback.format_stack(): a call stack with no header
    # and no error line. Highlight reads the deepest frame's source as the error and loses that
    # frame (and gives the outermost one no file); we keep all three, raise site first.
    return [
        Frame(
            f"/home/dev/{venv}/lib/python3.11/site-packages/highlight_io/sdk.py",
            sdk_line,
            None,
            "record_http_error",
            'SpanAttributes.EXCEPTION_STACKTRACE: "".join(traceback.format_stack()),',
        ),
        Frame(_APP, 82, None, "main", 'H.record_http_error(404, \'{"detail":"Item not found"}\')'),
        Frame(_APP, 128, None, "<module>", "main()"),
    ]


BETTER_THAN_HIGHLIGHT: dict[str, tuple[list[Frame], str | None]] = {
    "highlight-py span-event HTTPException: Item not found": (_format_stack_frames(".venvs/hl", 415), None),
    "highlight-py-0.9 span-event HTTPException: Item not found": (
        _format_stack_frames(".venvs/hl09", 360),
        None,
    ),
    # debug.Stack(): Highlight makes three half-frames and takes the goroutine header as the error.
    # One frame per function/location pair, the runtime/debug.Stack frame dropped (it is the stack
    # being taken, not the error), full function name, no error line.
    "go runtime/debug.Stack() (what otel-go RecordError WithStackTrace uses)": (
        [Frame("/home/dev/go/demo/main.go", 41, None, "main.main", None)],
        None,
    ),
    # pkg/errors StackTrace %+v: Highlight keeps only the text after the last dot as the function
    # (so `main.main` and `runtime.main` are both "main") and takes the first function as the error.
    "go pkg/errors %+v style (what highlight-go RecordSpanErrorWithStack sends)": (
        [
            Frame("/home/dev/go/demo/main.go", 23, None, "main.pkgErrorsStyle", None),
            Frame("/home/dev/go/demo/main.go", 42, None, "main.main", None),
            Frame("/usr/lib/go-1.19/src/runtime/proc.go", 250, None, "runtime.main", None),
            Frame("/usr/lib/go-1.19/src/runtime/asm_amd64.s", 1594, None, "runtime.goexit", None),
        ],
        None,
    ),
}

# Single frames where Highlight's function name is wrong: (label, index) → ours.
# `at async /path:65:249414` is an anonymous async function; "async" is V8's marker, not a name.
HIGHLIGHT_FUNCTION_WRONG: dict[tuple[str, int], str | None] = {
    ("highlight-node span-event SyntaxError: Expected property name or '}' in JSON at position ", 2): None,
}

AGREEING = [v for v in VECTORS if v["label"] not in BETTER_THAN_HIGHLIGHT]


def _highlight_view(frame: dict[str, Any]) -> tuple[Any, ...]:
    return (
        frame.get("fileName"),
        frame.get("lineNumber"),
        frame.get("columnNumber"),
        frame.get("functionName"),
    )


def _our_view(frame: Frame) -> tuple[Any, ...]:
    return (frame.file, frame.line, frame.column, frame.function)


def test_fixture_is_complete() -> None:
    labels = [v["label"] for v in VECTORS]
    assert len(VECTORS) == 22
    assert len(set(labels)) == len(labels)
    assert set(BETTER_THAN_HIGHLIGHT) <= set(labels)
    assert {label for label, _ in HIGHLIGHT_FUNCTION_WRONG} <= set(labels)


@pytest.mark.parametrize("vector", AGREEING, ids=[v["label"] for v in AGREEING])
def test_agrees_with_highlight(vector: dict[str, Any]) -> None:
    frames, error = parse_stack(vector["stack"])
    expected = vector["frames"]
    assert len(frames) == len(expected)
    for index, (ours, theirs) in enumerate(zip(frames, expected, strict=True)):
        want = _highlight_view(theirs)
        if (vector["label"], index) in HIGHLIGHT_FUNCTION_WRONG:
            want = (*want[:3], HIGHLIGHT_FUNCTION_WRONG[vector["label"], index])
        assert _our_view(ours) == want, f"frame {index}"
    assert error == expected[0]["error"]


@pytest.mark.parametrize(
    "vector",
    [v for v in AGREEING if v["stack"].startswith("Traceback")],
    ids=lambda v: v["label"],
)
def test_python_source_lines_match_highlight(vector: dict[str, Any]) -> None:
    # Same text as Highlight's lineContent, minus the 4-space indent the traceback module adds.
    frames, _ = parse_stack(vector["stack"])
    assert [f.source for f in frames] == [h["lineContent"].strip() for h in vector["frames"]]


@pytest.mark.parametrize("label", list(BETTER_THAN_HIGHLIGHT))
def test_better_than_highlight(label: str) -> None:
    vector = next(v for v in VECTORS if v["label"] == label)
    expected_frames, expected_error = BETTER_THAN_HIGHLIGHT[label]
    frames, error = parse_stack(vector["stack"])
    assert frames == expected_frames
    assert error == expected_error
    assert [_highlight_view(h) for h in vector["frames"]] != [_our_view(f) for f in frames]


# --- hand-written vectors -------------------------------------------------------------------------

# Real output of Python 3.11 (paths shortened): a KeyError, re-raised `from` it, then a ValueError
# while handling that. The raised exception is the last one.
PY_CHAINED = """\
Traceback (most recent call last):
  File "/app/chain.py", line 6, in handler
    load({})
  File "/app/chain.py", line 3, in load
    return d["missing"]
           ~^^^^^^^^^^^
KeyError: 'missing'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/chain.py", line 11, in outer
    handler()
  File "/app/chain.py", line 8, in handler
    raise RuntimeError("lookup failed") from e
RuntimeError: lookup failed

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/chain.py", line 15, in <module>
    outer()
  File "/app/chain.py", line 13, in outer
    int("x")
ValueError: invalid literal for int() with base 10: 'x'
"""

# Real 3.11 output: ^^^ markers on every frame, and a two-line exception message.
PY_MARKERS_MULTILINE = """\
Traceback (most recent call last):
  File "/app/deep.py", line 23, in <module>
    deep(2)
  File "/app/deep.py", line 21, in deep
    return deep(n - 1)
           ^^^^^^^^^^^
  File "/app/deep.py", line 21, in deep
    return deep(n - 1)
           ^^^^^^^^^^^
  File "/app/deep.py", line 20, in deep
    raise ValueError("deep\\nsecond line")
ValueError: deep
second line
"""

# No source available (python -c / <stdin>): the error line must not be taken as source.
PY_NO_SOURCE = """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
ZeroDivisionError: division by zero
"""

PY_SYNTAX_ERROR = """\
Traceback (most recent call last):
  File "/app/run.py", line 3, in <module>
    compile(src, "<src>", "exec")
  File "<src>", line 1
    1 +
       ^
SyntaxError: invalid syntax
"""

PY_RECURSION = """\
Traceback (most recent call last):
  File "/app/r.py", line 4, in <module>
    f()
  File "/app/r.py", line 2, in f
    return f()
           ^^^
  File "/app/r.py", line 2, in f
    return f()
           ^^^
  [Previous line repeated 996 more times]
RecursionError: maximum recursion depth exceeded
"""

# Real Node 20 output.
V8_NEW = (
    "TypeError: Cannot read properties of null (reading 'x')\n"
    "    at new Foo (/tmp/st.js:1:34)\n"
    "    at mk (/tmp/st.js:2:24)\n"
    "    at Object.<anonymous> (/tmp/st.js:3:7)\n"
    "    at node:internal/main/run_main_module:28:49"
)
V8_ASYNC = (
    "Error: pa\n"
    "    at /tmp/st.js:10:75\n"
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
    "    at async Promise.all (index 0)\n"
    "    at async c (/tmp/st.js:10:22)"
)
V8_EVAL = (
    "Error: ev\n"
    "    at g (eval at f (/tmp/st.js:7:16), <anonymous>:1:21)\n"
    "    at eval (eval at f (/tmp/st.js:7:16), <anonymous>:1:40)\n"
    "    at f (/tmp/st.js:7:16)"
)
V8_ANONYMOUS = (
    "SyntaxError: Expected property name or '}' in JSON at position 1\n"
    "    at JSON.parse (<anonymous>)\n"
    "    at /tmp/st.js:9:25\n"
    "    at Array.map (<anonymous>)\n"
    "    at Object.<anonymous> (/tmp/st.js:9:11)"
)
CHROME = (
    "Error: Request failed\n"
    "    at handleClick (http://localhost:3000/static/js/main.chunk.js:120:15)\n"
    "    at HTMLButtonElement.<anonymous> (http://localhost:3000/static/js/main.chunk.js:88:3)"
)
# util.inspect(err) output: the `{ code: … }` block after the frames is not part of the stack.
NODE_INSPECT = (
    "Error: connect ECONNREFUSED 127.0.0.1:5432\n"
    "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {\n"
    "  errno: -111,\n"
    "  code: 'ECONNREFUSED'\n"
    "}"
)
FIREFOX = (
    "handleClick@http://localhost:3000/static/js/app.js:120:15\n"
    "dispatch/<@http://localhost:3000/static/js/app.js:88:3\n"
    "@http://localhost:3000/static/js/app.js:5:1\n"
)
FIREFOX_EVAL = (
    "evaluated@http://localhost:3000/app.js line 12 > eval:1:7\nrun@http://localhost:3000/app.js:12:5"
)
SAFARI = (
    "thrower@http://localhost:3000/app.js:30:24\n"
    "map@[native code]\n"
    "global code@http://localhost:3000/app.js:32:9"
)
NODE_LOG_STACK = "Error\n    at main (/home/dev/app/drive_highlight_node.cjs:36:10)"

GO_RECOVERED_PANIC = (
    "goroutine 1 [running]:\n"
    "runtime/debug.Stack()\n"
    "\t/usr/local/go/src/runtime/debug/stack.go:24 +0x5e\n"
    "main.main.func1()\n"
    "\t/home/dev/go/demo/main.go:12 +0x45\n"
    "panic({0x4a1b20?, 0x4e6c28?})\n"
    "\t/usr/local/go/src/runtime/panic.go:914 +0x21f\n"
    "main.(*Store).Get(0xc000012345, {0x4b1c2d, 0x7})\n"
    "\t/home/dev/go/demo/store.go:31 +0x1b\n"
    "main.handler(...)\n"
    "\t/home/dev/go/demo/main.go:20\n"
    "main.main()\n"
    "\t/home/dev/go/demo/main.go:25 +0x6a\n"
)
GO_CRASH = (
    "panic: runtime error: index out of range [5] with length 3\n"
    "\n"
    "goroutine 1 [running]:\n"
    "main.main()\n"
    "\t/home/dev/go/demo/main.go:8 +0x1d\n"
    "exit status 2\n"
)
GO_GOROUTINES = (
    "goroutine 6 [running]:\n"
    "main.worker(0x1)\n"
    "\t/home/dev/go/demo/main.go:40 +0x3c\n"
    "created by main.main in goroutine 1\n"
    "\t/home/dev/go/demo/main.go:50 +0x58\n"
    "\n"
    "goroutine 1 [chan receive]:\n"
    "main.main()\n"
    "\t/home/dev/go/demo/main.go:52 +0x7a\n"
)
GO_PKG_ERRORS = (
    "connection refused\n"
    "main.dial\n"
    "\t/home/dev/go/demo/net.go:14\n"
    "main.main\n"
    "\t/home/dev/go/demo/main.go:42\n"
    "runtime.goexit\n"
    "\t/usr/local/go/src/runtime/asm_amd64.s:1650"
)
# errors.Wrap: one stack per layer, the origin's first.
GO_PKG_ERRORS_WRAPPED = (
    "connection refused\n"
    "main.dial\n"
    "\t/home/dev/go/demo/net.go:14\n"
    "main.main\n"
    "\t/home/dev/go/demo/main.go:42\n"
    "dialing db\n"
    "main.connect\n"
    "\t/home/dev/go/demo/db.go:9\n"
    "main.main\n"
    "\t/home/dev/go/demo/main.go:42"
)
BROWSER_FRAMES = [
    {
        "columnNumber": 1473,
        "lineNumber": 450,
        "fileName": "http://127.0.0.1:8765/static/highlight.umd.js",
        "functionName": "gf",
        "source": "    at gf (http://127.0.0.1:8765/static/highlight.umd.js:450:1473)",
    },
    # error-stack-parser leaves out what it could not read.
    {
        "columnNumber": 44,
        "lineNumber": 1,
        "functionName": "UtilityScript.<anonymous>",
        "source": "    at UtilityScript.<anonymous> (<anonymous>:1:44)",
    },
]
BROWSER_EXPECTED = [
    Frame("http://127.0.0.1:8765/static/highlight.umd.js", 450, 1473, "gf", None),
    Frame(None, 1, 44, "UtilityScript.<anonymous>", None),
]

HAND_WRITTEN: list[tuple[str, str, list[Frame], str | None]] = [
    (
        "python chained exceptions: last one wins",
        PY_CHAINED,
        [
            Frame("/app/chain.py", 13, None, "outer", 'int("x")'),
            Frame("/app/chain.py", 15, None, "<module>", "outer()"),
        ],
        "ValueError: invalid literal for int() with base 10: 'x'",
    ),
    (
        "python ^^^ markers and a multi-line message",
        PY_MARKERS_MULTILINE,
        [
            Frame("/app/deep.py", 20, None, "deep", 'raise ValueError("deep\\nsecond line")'),
            Frame("/app/deep.py", 21, None, "deep", "return deep(n - 1)"),
            Frame("/app/deep.py", 21, None, "deep", "return deep(n - 1)"),
            Frame("/app/deep.py", 23, None, "<module>", "deep(2)"),
        ],
        "ValueError: deep",
    ),
    (
        "python frame without source",
        PY_NO_SOURCE,
        [Frame("<string>", 1, None, "<module>", None)],
        "ZeroDivisionError: division by zero",
    ),
    (
        "python SyntaxError location frame",
        PY_SYNTAX_ERROR,
        [
            Frame("<src>", 1, None, None, "1 +"),
            Frame("/app/run.py", 3, None, "<module>", 'compile(src, "<src>", "exec")'),
        ],
        "SyntaxError: invalid syntax",
    ),
    (
        "python 'previous line repeated' is not a frame",
        PY_RECURSION,
        [
            Frame("/app/r.py", 2, None, "f", "return f()"),
            Frame("/app/r.py", 2, None, "f", "return f()"),
            Frame("/app/r.py", 4, None, "<module>", "f()"),
        ],
        "RecursionError: maximum recursion depth exceeded",
    ),
    (
        "v8 new + anonymous",
        V8_NEW,
        [
            Frame("/tmp/st.js", 1, 34, "new Foo"),
            Frame("/tmp/st.js", 2, 24, "mk"),
            Frame("/tmp/st.js", 3, 7, "Object.<anonymous>"),
            Frame("node:internal/main/run_main_module", 28, 49, None),
        ],
        "TypeError: Cannot read properties of null (reading 'x')",
    ),
    (
        "v8 async frames",
        V8_ASYNC,
        [
            Frame("/tmp/st.js", 10, 75, None),
            Frame("node:internal/process/task_queues", 95, 5, "process.processTicksAndRejections"),
            Frame(None, None, None, "async Promise.all"),
            Frame("/tmp/st.js", 10, 22, "async c"),
        ],
        "Error: pa",
    ),
    (
        "v8 eval frames point at the eval call site",
        V8_EVAL,
        [
            Frame("/tmp/st.js", 7, 16, "g"),
            Frame("/tmp/st.js", 7, 16, "eval"),
            Frame("/tmp/st.js", 7, 16, "f"),
        ],
        "Error: ev",
    ),
    (
        "v8 <anonymous> locations",
        V8_ANONYMOUS,
        [
            Frame("<anonymous>", None, None, "JSON.parse"),
            Frame("/tmp/st.js", 9, 25, None),
            Frame("<anonymous>", None, None, "Array.map"),
            Frame("/tmp/st.js", 9, 11, "Object.<anonymous>"),
        ],
        "SyntaxError: Expected property name or '}' in JSON at position 1",
    ),
    (
        "chrome urls with ports",
        CHROME,
        [
            Frame("http://localhost:3000/static/js/main.chunk.js", 120, 15, "handleClick"),
            Frame("http://localhost:3000/static/js/main.chunk.js", 88, 3, "HTMLButtonElement.<anonymous>"),
        ],
        "Error: Request failed",
    ),
    (
        "node util.inspect trailer",
        NODE_INSPECT,
        [Frame("node:net", 1555, 16, "TCPConnectWrap.afterConnect [as oncomplete]")],
        "Error: connect ECONNREFUSED 127.0.0.1:5432",
    ),
    (
        "json-quoted node stack",
        json.dumps(NODE_LOG_STACK),
        [Frame("/home/dev/app/drive_highlight_node.cjs", 36, 10, "main")],
        "Error",
    ),
    (
        "json-quoted twice",
        json.dumps(json.dumps(NODE_LOG_STACK)),
        [Frame("/home/dev/app/drive_highlight_node.cjs", 36, 10, "main")],
        "Error",
    ),
    (
        "firefox",
        FIREFOX,
        [
            Frame("http://localhost:3000/static/js/app.js", 120, 15, "handleClick"),
            Frame("http://localhost:3000/static/js/app.js", 88, 3, "dispatch/<"),
            Frame("http://localhost:3000/static/js/app.js", 5, 1, None),
        ],
        None,
    ),
    (
        "firefox eval",
        FIREFOX_EVAL,
        [
            Frame("http://localhost:3000/app.js", 12, None, "evaluated"),
            Frame("http://localhost:3000/app.js", 12, 5, "run"),
        ],
        None,
    ),
    (
        "safari",
        SAFARI,
        [
            Frame("http://localhost:3000/app.js", 30, 24, "thrower"),
            Frame("[native code]", None, None, "map"),
            Frame("http://localhost:3000/app.js", 32, 9, "global code"),
        ],
        None,
    ),
    (
        "firefox with an error line",
        "TypeError: x is undefined\n" + FIREFOX,
        [
            Frame("http://localhost:3000/static/js/app.js", 120, 15, "handleClick"),
            Frame("http://localhost:3000/static/js/app.js", 88, 3, "dispatch/<"),
            Frame("http://localhost:3000/static/js/app.js", 5, 1, None),
        ],
        "TypeError: x is undefined",
    ),
    (
        "go recovered panic: frames start after panic(...)",
        GO_RECOVERED_PANIC,
        [
            Frame("/home/dev/go/demo/store.go", 31, None, "main.(*Store).Get"),
            Frame("/home/dev/go/demo/main.go", 20, None, "main.handler"),
            Frame("/home/dev/go/demo/main.go", 25, None, "main.main"),
        ],
        None,
    ),
    (
        "go crash output",
        GO_CRASH,
        [Frame("/home/dev/go/demo/main.go", 8, None, "main.main")],
        "panic: runtime error: index out of range [5] with length 3",
    ),
    (
        "go goroutine dump: first goroutine only",
        GO_GOROUTINES,
        [
            Frame("/home/dev/go/demo/main.go", 40, None, "main.worker"),
            Frame("/home/dev/go/demo/main.go", 50, None, "main.main"),
        ],
        None,
    ),
    (
        "go pkg/errors with a message",
        GO_PKG_ERRORS,
        [
            Frame("/home/dev/go/demo/net.go", 14, None, "main.dial"),
            Frame("/home/dev/go/demo/main.go", 42, None, "main.main"),
            Frame("/usr/local/go/src/runtime/asm_amd64.s", 1650, None, "runtime.goexit"),
        ],
        "connection refused",
    ),
    (
        "go pkg/errors wrapped: the origin's stack",
        GO_PKG_ERRORS_WRAPPED,
        [
            Frame("/home/dev/go/demo/net.go", 14, None, "main.dial"),
            Frame("/home/dev/go/demo/main.go", 42, None, "main.main"),
        ],
        "connection refused",
    ),
    ("browser StackFrame array as JSON", json.dumps(BROWSER_FRAMES), BROWSER_EXPECTED, None),
    # The languages of Highlight's other SDKs (their stacks as their OpenTelemetry SDKs print them).
    (
        "java printStackTrace, up to its Caused by",
        "java.lang.IllegalStateException: cart empty\n\tat com.shop.Cart.total(Cart.java:42)\n"
        "\tat java.base/jdk.internal.reflect.Method.invoke(Native Method)\n"
        "Caused by: java.io.IOException: x\n"
        "\tat com.shop.Db.read(Db.java:7)",
        [
            Frame("Cart.java", 42, None, "com.shop.Cart.total"),
            Frame("Native Method", None, None, "java.base/jdk.internal.reflect.Method.invoke"),
        ],
        "java.lang.IllegalStateException: cart empty",
    ),
    (
        ".net Exception.ToString, with and without symbols",
        "System.InvalidOperationException: cart empty\n"
        "   at Shop.Cart.Total(Int32 n) in /src/Cart.cs:line 42\n"
        "   at System.Threading.ExecutionContext.Run()",
        [
            Frame("/src/Cart.cs", 42, None, "Shop.Cart.Total"),
            Frame(None, None, None, "System.Threading.ExecutionContext.Run"),
        ],
        "System.InvalidOperationException: cart empty",
    ),
    (
        "ruby full_message",
        "/app/cart.rb:42:in 'total': cart empty (RuntimeError)\n\tfrom /app/app.rb:10:in `block in call'",
        [Frame("/app/cart.rb", 42, None, "total"), Frame("/app/app.rb", 10, None, "block in call")],
        "cart empty (RuntimeError)",
    ),
    (
        "php getTraceAsString",
        "#0 /app/src/Api.php(17): Cart->total()\n#1 /app/public/index.php(5): Api->checkout()\n#2 {main}",
        [
            Frame("/app/src/Api.php", 17, None, "Cart->total()"),
            Frame("/app/public/index.php", 5, None, "Api->checkout()"),
        ],
        None,
    ),
]


@pytest.mark.parametrize(
    ("stack", "expected_frames", "expected_error"),
    [case[1:] for case in HAND_WRITTEN],
    ids=[case[0] for case in HAND_WRITTEN],
)
def test_hand_written(stack: str, expected_frames: list[Frame], expected_error: str | None) -> None:
    frames, error = parse_stack(stack)
    assert frames == expected_frames
    assert error == expected_error


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   \n\n",
        "hello world",
        "division by zero",
        "null",
        "42",
        "{}",
        "[1, 2]",
        '"just a quoted message"',
        '"unterminated',
        "at least one value is required",
        "at least one value is required (got 0)",
        "  File names must be unique",
        "contact me@example.com",
        "[" * 5000 + "]" * 5000,
        "\x00\x01\x02\ufffd",
        None,
        123,
    ],
)
def test_unrecognised_input_gives_nothing(garbage: Any) -> None:
    assert parse_stack(garbage) == ([], None)


_LONG = 100_000


@pytest.mark.parametrize(
    "stack",
    [
        "a@b" + " " * _LONG + "x",
        "    at b" + " " * _LONG + "x",
        "    at " + " (" * _LONG + "x",
        '  File "a", line 1, in f' + " " * _LONG + "x",
        'Traceback (most recent call last):\n  File "a", line 1, in f\n    ' + "~" * _LONG + "x\nE: x",
        "    at f (" + "1:" * _LONG + "x)",
        "main.f" + "(" * _LONG + "\n\t/a.go:1",
    ],
    ids=["gecko", "v8 spaces", "v8 parens", "python frame", "python marker", "colons", "go args"],
)
def test_long_hostile_lines_stay_fast(stack: str) -> None:
    # Stacks carry user text into ingestion; a backtracking pattern took seconds on 20 kB lines.
    started = time.perf_counter()
    parse_stack(stack)
    assert time.perf_counter() - started < 0.5


def _python_frames(count: int) -> str:
    body = "".join(f'  File "/app/r.py", line {n}, in f{n}\n    f{n + 1}()\n' for n in range(1, count + 1))
    return f"Traceback (most recent call last):\n{body}RecursionError: too deep\n"


@pytest.mark.parametrize(
    ("stack", "first_function"),
    [
        # Python lists the raise site last: the cap must keep the 64 frames nearest it.
        (_python_frames(100), "f100"),
        ("Error: x\n" + "".join(f"    at f{n} (/app/a.js:{n}:1)\n" for n in range(1, 101)), "f1"),
        ("".join(f"main.f{n}()\n\t/app/main.go:{n} +0x1d\n" for n in range(1, 101)), "main.f1"),
        (json.dumps([{"functionName": f"f{n}", "lineNumber": n} for n in range(1, 101)]), "f1"),
    ],
    ids=["python", "v8", "go", "stackframe objects"],
)
def test_capped_at_64_frames_keeping_the_raise_site(stack: str, first_function: str) -> None:
    frames, _ = parse_stack(stack)
    assert len(frames) == MAX_FRAMES == 64
    assert frames[0].function == first_function


def test_frames_from_objects() -> None:
    items: list[Any] = [
        *BROWSER_FRAMES,
        # Numbers as strings or floats, junk types ignored, empty frames and non-dicts skipped.
        {"fileName": "app.js", "lineNumber": "12", "columnNumber": 3.0, "functionName": ""},
        {"fileName": 5, "lineNumber": True, "columnNumber": 1.5},
        {},
        "not a frame",
        None,
        # Highlight's own frame objects carry code as lineContent.
        {"fileName": "/app/x.py", "lineNumber": 3, "functionName": "main", "lineContent": "    1 / 0"},
    ]
    assert frames_from_objects(items) == [
        *BROWSER_EXPECTED,
        Frame("app.js", 12, 3, None, None),
        Frame("/app/x.py", 3, None, "main", "    1 / 0"),
    ]


ROUND_TRIP_STACKS = [case[1] for case in HAND_WRITTEN] + [v["stack"] for v in VECTORS]


@pytest.mark.parametrize("stack", ROUND_TRIP_STACKS)
def test_frames_to_json_round_trip(stack: str) -> None:
    frames, _ = parse_stack(stack)
    stored = json.loads(json.dumps(frames_to_json(frames)))
    assert all(set(item) == {"file", "line", "column", "function", "source"} for item in stored)
    assert frames_from_objects(stored) == frames


def test_frames_to_json_shape() -> None:
    frames, _ = parse_stack(PY_NO_SOURCE)
    assert frames_to_json(frames) == [
        {"file": "<string>", "line": 1, "column": None, "function": "<module>", "source": None}
    ]
