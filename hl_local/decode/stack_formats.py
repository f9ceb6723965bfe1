"""Stack formats of the SDKs whose languages stacks.py does not cover: Java, .NET, Ruby, PHP.

Each lists the raise site first, as index 0 must be. The shapes are the languages' own printouts,
which their OpenTelemetry SDKs put in `exception.stacktrace`:

* Java `Throwable.printStackTrace`: `java.lang.IllegalStateException: msg` then `\\tat
  com.shop.Cart.total(Cart.java:42)` (`Native Method`, `Unknown Source` without a line);
* .NET `Exception.ToString()`: `System.InvalidOperationException: msg` then `   at
  Shop.Cart.Total(Int32 n) in /src/Cart.cs:line 42` (no ` in …` without symbols);
* Ruby `Exception#full_message`: `/app/cart.rb:42:in 'total': msg (RuntimeError)` then
  `\\tfrom /app/app.rb:10:in 'call'` (older Rubies quote with a backtick), or bare backtrace lines;
* PHP `getTraceAsString()`: `#0 /app/src/Cart.php(42): Cart->total()` … `#3 {main}` (the throw
  site itself is not a `#` line: PHP gives it as the exception's file and line).
"""

from __future__ import annotations

import re

from hl_local.decode.stacks import MAX_FRAMES, Frame, Parsed

# a Java location is `File.java:42`, `Native Method` or `Unknown Source`; .NET's parentheses hold
# the parameters (`()`, `(Int32 n)`)
_JAVA_FRAME = re.compile(
    r"^\s*at (?P<function>[\w$.<>/]+)"
    r"\((?P<location>[\w$.\-]+\.\w+(?::\d+)?|Native Method|Unknown Source)\)\s*$"
)
_DOTNET_FRAME = re.compile(
    # no space before the parenthesis: V8's `at fn (file:line:col)` has one
    r"^\s*at (?P<function>[^()\s]+)\([^()]*\)(?: in (?P<file>.+):line (?P<line>\d+))?\s*$"
)
_RUBY_FRAME = re.compile(
    r"^\s*(?:from )?(?P<file>[^\s:][^:]*):(?P<line>\d+):in [`'](?P<function>[^'`]*)'(?P<rest>.*)$"
)
_PHP_FRAME = re.compile(r"^#\d+ (?:(?P<file>[^()]+)\((?P<line>\d+)\): )?(?P<function>.+)$")


def _frames(lines: list[str], frame_of: re.Pattern[str]) -> tuple[list[re.Match[str]], int]:
    """The first run of frame lines (blank lines skipped), and where it starts."""
    first = next((i for i, line in enumerate(lines) if frame_of.match(line)), -1)
    if first < 0:
        return [], -1
    matches = []
    for line in lines[first:]:
        match = frame_of.match(line)
        if match is None:
            if line.strip():
                break  # past the first run: a `Caused by:` section, a `--- End of …` line
            continue
        matches.append(match)
        if len(matches) == MAX_FRAMES:
            break
    return matches, first


def _error_line(lines: list[str], first: int) -> str | None:
    return next((line.strip() for line in lines[:first] if line.strip()), None)


def parse_java(lines: list[str]) -> Parsed | None:
    matches, first = _frames(lines, _JAVA_FRAME)
    if not matches:
        return None
    frames = []
    for match in matches:
        file, _, line = match["location"].partition(":")
        frames.append(Frame(file or None, int(line) if line.isdigit() else None, None, match["function"]))
    return frames, _error_line(lines, first)


def parse_dotnet(lines: list[str]) -> Parsed | None:
    matches, first = _frames(lines, _DOTNET_FRAME)
    if not matches or not any(m["file"] or "." in m["function"] for m in matches):
        return None
    frames = [
        Frame(m["file"], int(m["line"]) if m["line"] else None, None, m["function"].strip()) for m in matches
    ]
    return frames, _error_line(lines, first)


def parse_ruby(lines: list[str]) -> Parsed | None:
    matches, first = _frames(lines, _RUBY_FRAME)
    if not matches:
        return None
    frames = [Frame(m["file"], int(m["line"]), None, m["function"] or None) for m in matches]
    # full_message puts the error after the first frame: `…:in 'total': boom (RuntimeError)`
    rest = matches[0]["rest"].removeprefix(":").strip()
    return frames, rest or _error_line(lines, first)


def parse_php(lines: list[str]) -> Parsed | None:
    matches, first = _frames(lines, _PHP_FRAME)
    if not matches or not any(m["file"] for m in matches):
        return None
    frames = [
        Frame(m["file"], int(m["line"]), None, m["function"]) for m in matches if m["function"] != "{main}"
    ]
    return frames, _error_line(lines, first)
