"""Stack trace text → frames, for error rows and grouping.

SDKs send a stack as one string (`exception.stacktrace`), in the format of their language; the
browser SDK sends error-stack-parser frame objects instead. `parse_stack` detects the format from
the text itself and returns frames with index 0 = the raise/throw site (the frame people look at
first, and the one grouping weighs most), at most `MAX_FRAMES`, plus the error line when the text
has one.

The rules follow Highlight's own parser (see docs/otlp-and-backend-sdks.md §6.3, and the vectors in
tests/fixtures/stacktrace-parse/frames.json) with its defects fixed:

* Python `traceback.format_stack()` text (no `Traceback` header, sent by highlight-io's
  `record_http_error`): all frames and no error, where Highlight takes the deepest frame's source
  line as the error and loses that frame.
* Go `debug.Stack()` text: one frame per function/location pair, where Highlight makes half-frames.
* Go function names stay whole (`main.main`, `main.(*Store).Get`); Highlight keeps only the text
  after the last dot (`main`, `Get`), which makes every package's `main` look alike.
* Go's first line is the error only when it is a message (`panic: boom`, a pkg/errors message),
  never a function name or the `goroutine 1 [running]:` header.
* V8 `at async file:line:col` is an anonymous function (None), not one named "async".

Smaller choices, explained where they are made: Python source lines lose the traceback module's
4-space indent, a multi-line Python message gives its first line as the error, chained Python
exceptions keep the raised (last) one, browser StackFrame `source` (the raw stack line) is not
taken as source code.

Pure: no I/O, stdlib only, and `parse_stack` never raises; an odd stack must not cost us the error.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Highlight keeps 64 frames; deep recursion would otherwise store thousands of identical frames.
MAX_FRAMES = 64
# How many layers of JSON string quoting to peel (Node's log stacks arrive quoted once; a
# re-serialising pipeline may add one more).
_MAX_UNQUOTE = 3


@dataclass(frozen=True, slots=True)
class Frame:
    file: str | None
    line: int | None
    column: int | None
    function: str | None
    # The source code line printed in the stack (only Python prints one), without the indentation
    # the traceback module adds.
    source: str | None = None


# Result of one format's parser: frames (index 0 = raise site) and the error line.
Parsed = tuple[list[Frame], str | None]


def parse_stack(stack: str) -> Parsed:
    """Frames (index 0 = raise/throw site, at most 64) and the error line of a stack string."""
    if not isinstance(stack, str):
        return [], None
    frames, error = _parse_remembered(stack)
    return list(frames), error


@functools.lru_cache(maxsize=4096)
def _parse_remembered(stack: str) -> tuple[tuple[Frame, ...], str | None]:
    """Applications raise the same errors from the same places over and over: parse each stack once.

    Frames are frozen; the cached tuple is copied into a fresh list for every caller.
    """
    try:
        frames, error = _parse_text(stack)
    except Exception:
        # The regexes below should not fail, but this runs inside ingestion: an unexpected stack
        # shape must cost us its frames, never the error row itself.
        return (), None
    return tuple(frames), error


def frames_to_json(frames: Iterable[Frame]) -> list[dict[str, Any]]:
    """Frames as plain dicts, for storing as JSON; `frames_from_objects` reads them back."""
    return [
        {"file": f.file, "line": f.line, "column": f.column, "function": f.function, "source": f.source}
        for f in frames
    ]


def frames_from_objects(items: list[Any]) -> list[Frame]:
    """Frames from frame objects: the browser SDK's StackFrames, Highlight's frames, or our JSON.

    Browser StackFrames (error-stack-parser) are `{fileName, lineNumber, columnNumber,
    functionName, source}`, where `source` is the raw stack line (`"    at f (app.js:1:2)"`), not
    code, so it is not used as `Frame.source`; Highlight's own frames carry code as `lineContent`.
    Order is kept (these are already index 0 = throw site); non-dict items and empty frames are
    skipped.
    """
    frames = [_frame_from_object(item) for item in items if isinstance(item, Mapping)]
    return [f for f in frames if f != _EMPTY_FRAME][:MAX_FRAMES]


_EMPTY_FRAME = Frame(None, None, None, None, None)


def _frame_from_object(item: Mapping[str, Any]) -> Frame:
    if any(key in item for key in ("file", "line", "column", "function")):
        # Our own frames_to_json shape (a round trip).
        return Frame(
            _opt_str(item.get("file")),
            _opt_int(item.get("line")),
            _opt_int(item.get("column")),
            _opt_str(item.get("function")),
            _opt_str(item.get("source")),
        )
    return Frame(
        _opt_str(item.get("fileName")),
        _opt_int(item.get("lineNumber")),
        _opt_int(item.get("columnNumber")),
        _opt_str(item.get("functionName")),
        _opt_str(item.get("lineContent")),
    )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_int(value: Any) -> int | None:
    # JSON from browsers may carry numbers as floats or strings; bools are not line numbers.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _is_number(value.strip()):
        return int(value)
    return None


# --- dispatch ---------------------------------------------------------------------------------


def _parse_text(stack: str) -> Parsed:
    unquoted = _unquote(stack)
    if isinstance(unquoted, list):
        return frames_from_objects(unquoted), None
    lines = unquoted.splitlines()
    # Most specific first: Python's `File "…", line N` and Go's tab-indented `file:line` cannot be
    # mistaken for the others, while a V8 line can contain "@" (`node_modules/@scope/...`) and so
    # must be tried before the Firefox/Safari `fn@file` form.
    # Java and .NET frames start with "at " as V8's do: tried before V8 (V8 needs "fn (loc)" or "loc").
    from hl_local.decode import stack_formats as more  # it imports Frame from here

    parsers: tuple[Callable[[list[str]], Parsed | None], ...] = (
        _parse_python,
        _parse_go,
        more.parse_java,
        more.parse_dotnet,
        _parse_v8,
        _parse_gecko,
        more.parse_ruby,
        more.parse_php,
    )
    for parser in parsers:
        parsed = parser(lines)
        if parsed is not None:
            return parsed
    return [], None


def _unquote(stack: str) -> str | list[Any]:
    """Peel JSON string quoting (Node's log `exception.stacktrace` is `"\\"Error: x\\n at …\\""`).

    A JSON array comes back as a list (the browser SDK's StackFrame objects, serialised).
    """
    text = stack
    for _ in range(_MAX_UNQUOTE):
        stripped = text.strip()
        quoted = len(stripped) >= 2 and stripped[0] == stripped[-1] == '"'
        array = stripped.startswith("[") and stripped.endswith("]")
        if not (quoted or array):
            break
        try:
            value = json.loads(stripped)
        except ValueError:
            break
        if isinstance(value, list):
            return value if all(isinstance(item, Mapping) for item in value) else text
        if not isinstance(value, str):
            break
        text = value
    return text


def _first_nonempty(lines: list[str]) -> str | None:
    return next((line.strip() for line in lines if line.strip()), None)


def _split_location(location: str) -> tuple[str, int, int | None] | None:
    """`file:line:col` or `file:line` → parts. The file may itself contain colons (URLs, `node:`),
    so the numbers are taken from the right."""
    head, _, last = location.rpartition(":")
    if not _is_number(last):
        return None
    file, colon, middle = head.rpartition(":")
    if colon and _is_number(middle):
        return file, int(middle), int(last)
    return head, int(last), None


def _is_number(text: str) -> bool:
    # isdigit() alone accepts "²" and other digits int() refuses.
    return text.isascii() and text.isdigit()


# --- Python -----------------------------------------------------------------------------------

_PY_HEADER = "Traceback (most recent call last):"
# Matched against right-stripped lines, so no `\s*$` after the lazy/greedy groups (quadratic).
_PY_FRAME = re.compile(r'^\s*File "(?P<file>.*?)", line (?P<line>\d+)(?:, in (?P<function>.*))?$')
# 3.11+ position markers under a source line (`~~^~~`, `^^^^`). (Written so that it cannot
# backtrack: `[~^]+[\s~^]*` is quadratic on a long run of `~` followed by anything else.)
_PY_MARKER = re.compile(r"^\s*[~^][\s~^]*$")
# Lines that join chained exceptions; only the part after the last one is the exception raised.
_PY_CHAIN_SEPARATORS = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)


def _parse_python(lines: list[str]) -> Parsed | None:
    if not any(_python_frame_match(line) or line.strip() == _PY_HEADER for line in lines):
        return None
    section = _last_python_section(lines)
    has_header = any(line.strip() == _PY_HEADER for line in section)
    frames, rest = _python_frames(section)
    # Without a header this is `traceback.format_stack()` output: a call stack, not an exception,
    # so whatever follows the frames is not an error line.
    error = _python_error(rest) if has_header or not frames else None
    # Python prints the oldest call first; reverse so index 0 = raise site. Cap after reversing so
    # deep recursion keeps the frames nearest the raise.
    return frames[::-1][:MAX_FRAMES], error


def _last_python_section(lines: list[str]) -> list[str]:
    start = 0
    for index, line in enumerate(lines):
        if line.strip() in _PY_CHAIN_SEPARATORS:
            start = index + 1
    return lines[start:]


def _python_frames(section: list[str]) -> tuple[list[Frame], list[str]]:
    """Frames in printed order, and the lines after the last frame (where the error line is)."""
    frames: list[Frame] = []
    rest_start = 0
    index = 0
    while index < len(section):
        match = _python_frame_match(section[index])
        index += 1
        if match is None:
            continue
        source = None
        if index < len(section) and _is_python_source(section[index]):
            source = section[index].strip()
            index += 1
        frames.append(Frame(match["file"], int(match["line"]), None, match["function"], source))
        rest_start = index
    return frames, section[rest_start:]


def _is_python_source(line: str) -> bool:
    # The traceback module indents source lines; the error line after the frames is not indented.
    return (
        line[:1].isspace()
        and bool(line.strip())
        and not _python_frame_match(line)
        and not _PY_MARKER.match(line)
    )


def _python_frame_match(line: str) -> re.Match[str] | None:
    return _PY_FRAME.match(line.rstrip())


def _python_error(rest: list[str]) -> str | None:
    # The first unindented line after the frames. Highlight takes the last non-empty line, which is
    # the same for one-line messages, but for a multi-line message or 3.11 notes it would give the
    # message's last line instead of `ValueError: …`.
    for line in rest:
        if line.strip() and not line[:1].isspace() and line.strip() != _PY_HEADER:
            return line.strip()
    return None


# --- Go ---------------------------------------------------------------------------------------

# `\t/path/file.go:LINE` plus, in runtime tracebacks (`debug.Stack()`), a ` +0x1d` pc offset.
_GO_LOCATION = re.compile(r"^\t(?P<file>.+):(?P<line>\d+)(?: \+0x[0-9a-fA-F]+)?\s*$")
_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[.*\]:$")
# A trailing argument list: `(0xc000012345, {0x4b1c2d, 0x7})`, `(...)`, `()`.
_GO_ARGUMENTS = re.compile(r"\([^()]*\)$")
_GO_CREATED_BY = re.compile(r"^created by (?P<function>.+?)(?: in goroutine \d+)?$")
# Frames that belong to producing the stack or to the panic machinery, not to the failing code.
_GO_STACK_HELPERS = frozenset({"runtime/debug.Stack", "runtime/debug.PrintStack", "runtime.Callers"})
_GO_PANIC = frozenset({"panic", "runtime.gopanic"})


def _parse_go(lines: list[str]) -> Parsed | None:
    pairs = _go_pairs(lines)
    if pairs is None:
        return None
    start, end = pairs
    frames = [_go_frame(lines[i], lines[i + 1]) for i in range(start, end, 2)]
    return _drop_go_bookkeeping(frames)[:MAX_FRAMES], _go_error(lines[:start])


def _is_go_pair(lines: list[str], index: int) -> bool:
    return (
        index + 1 < len(lines)
        and bool(lines[index].strip())
        and not lines[index][:1].isspace()
        and _GO_LOCATION.match(lines[index + 1]) is not None
    )


def _go_pairs(lines: list[str]) -> tuple[int, int] | None:
    """Line range of the first run of function/location pairs: one goroutine, or one pkg/errors
    stack (an `errors.Wrap` chain prints one stack per layer; the first is where it started)."""
    start = next((i for i in range(len(lines)) if _is_go_pair(lines, i)), None)
    if start is None:
        return None
    end = start
    while _is_go_pair(lines, end):
        end += 2
    return start, end


def _go_frame(function_line: str, location_line: str) -> Frame:
    location = _GO_LOCATION.match(location_line)
    assert location is not None  # _is_go_pair checked it
    return Frame(location["file"], int(location["line"]), None, _go_function(function_line), None)


def _go_function(line: str) -> str:
    # Keep the full `pkg.Func` / `pkg.(*T).Method`: the package is what tells two `main`s apart.
    name = line.strip()
    created_by = _GO_CREATED_BY.match(name)
    if created_by:
        # `created by main.main in goroutine 1`: the frame is the `go` statement in main.main.
        return created_by["function"]
    return _GO_ARGUMENTS.sub("", name)


def _drop_go_bookkeeping(frames: list[Frame]) -> list[Frame]:
    # A recovered panic's stack is: debug.Stack, the deferred recover func, panic(...), then the
    # code that panicked; that code is the raise site, so start after the last panic frame.
    panics = [i for i, frame in enumerate(frames) if frame.function in _GO_PANIC]
    if panics:
        frames = frames[panics[-1] + 1 :]
    while frames and frames[0].function in _GO_STACK_HELPERS:
        frames = frames[1:]
    return frames


def _go_error(header: list[str]) -> str | None:
    # The message line of pkg/errors `%+v` or a crash's `panic: …` line; debug.Stack() output
    # starts with the goroutine header instead, and has no error line.
    first = _first_nonempty(header)
    return None if first is None or _GO_GOROUTINE.match(first) else first


# --- V8 (Node, Chrome, Edge) ------------------------------------------------------------------

# Frame lines are split with string methods rather than regexes: stacks embed user text, and
# patterns like `(.+?)\s*$` are quadratic on a long line, which ingestion cannot afford.
_V8_PREFIX = "at "
# util.inspect(err) (what console.error prints) ends the last frame with ` {` before the props.
_V8_INSPECT_SUFFIX = " {"
# Inside `eval at f (file:1:2), <anonymous>:3:4`: the innermost parenthesised location is the
# real file that called eval (what error-stack-parser reports too).
_V8_EVAL_ORIGIN = re.compile(r"\((?P<location>[^()]+)\)")
# Locations V8 prints without a position. `index N` (`at async Promise.all (index 0)`) is the
# position in Promise.all's argument, not a file. Anything else without a position is not a frame,
# so prose like "at least one (got 0)" is not mistaken for a stack.
_V8_NO_POSITION = re.compile(r"^(?:<anonymous>|native|unknown location|(?P<index>index \d+))$")


def _parse_v8(lines: list[str]) -> Parsed | None:
    return _parse_frame_lines(lines, _v8_frame)


def _v8_frame(line: str) -> Frame | None:
    text = line.strip()
    if not text.startswith(_V8_PREFIX):
        return None
    body = text.removeprefix(_V8_PREFIX).removesuffix(_V8_INSPECT_SUFFIX).strip()
    # `fn (location)`: the function name ends at the first " (" (eval locations nest parentheses).
    function, paren, location = body.partition(" (")
    if not (paren and location.endswith(")")):
        # `at file:line:col` (anonymous function); `at async file:line:col` is an anonymous async
        # function: "async" is V8's marker, not a name (Highlight reports the name "async").
        return _v8_location_frame(body.removeprefix("async "), None, require_position=True)
    return _v8_location_frame(location[:-1], function or None, require_position=False)


def _v8_location_frame(location: str, function: str | None, require_position: bool) -> Frame | None:
    # `async main` / `new Foo` keep their prefix, as Highlight does: Frame has no other place to
    # say the frame is an await continuation or a constructor call.
    if location.startswith("eval at "):
        origin = _V8_EVAL_ORIGIN.search(location)
        location = origin["location"] if origin else location.rpartition(", ")[2]
    parts = _split_location(location)
    if parts is not None:
        return Frame(parts[0] or None, parts[1], parts[2], function, None)
    no_position = None if require_position else _V8_NO_POSITION.match(location)
    if no_position is None:
        return None
    # `(<anonymous>)`, `(native)`: Highlight keeps the location as the file; so do we.
    return Frame(None if no_position["index"] else location, None, None, function, None)


def _parse_frame_lines(lines: list[str], parse_line: Callable[[str], Frame | None]) -> Parsed | None:
    """Shared by V8 and Firefox/Safari: the first run of frame lines, in order (index 0 = throw
    site), and the line before them as the error (`TypeError: boom`) when there is one."""
    first_frame = next((i for i, line in enumerate(lines) if parse_line(line) is not None), None)
    if first_frame is None:
        return None
    frames: list[Frame] = []
    for line in lines[first_frame:]:
        frame = parse_line(line)
        if frame is None:
            if line.strip():
                # Past the first run (e.g. util.inspect's `{ code: … }` or a `[cause]` stack).
                break
            continue
        frames.append(frame)
        if len(frames) == MAX_FRAMES:
            break
    # Only the first line is the error: a multi-line message's later lines are its continuation.
    return frames, _first_nonempty(lines[:first_frame])


# --- Firefox / Safari -------------------------------------------------------------------------

# `fn@file:line:col`, `@file:line:col` (anonymous), Safari `global code@…`, `map@[native code]`.
_GECKO_SEPARATOR = "@"
# Firefox eval frames: `app.js line 12 > eval:1:7` → the line in app.js that called eval.
_GECKO_EVAL = re.compile(r" line (?P<line>\d+)(?: > eval line \d+)* > (?:eval|Function):\d+:\d+$")
_SAFARI_NATIVE = "[native code]"


def _parse_gecko(lines: list[str]) -> Parsed | None:
    return _parse_frame_lines(lines, _gecko_frame)


def _gecko_frame(line: str) -> Frame | None:
    # The function ends at the first "@" (file URLs may contain one: `webpack://@scope/pkg`).
    function, separator, location = line.strip().partition(_GECKO_SEPARATOR)
    if not (separator and location):
        return None
    name = function.strip() or None
    if location == _SAFARI_NATIVE:
        return Frame(location, None, None, name, None)
    evaluated = _GECKO_EVAL.search(location)
    if evaluated:
        return Frame(location[: evaluated.start()], int(evaluated["line"]), None, name, None)
    parts = _split_location(location)
    if parts is None or not parts[0]:
        return None
    return Frame(parts[0], parts[1], parts[2], name, None)
