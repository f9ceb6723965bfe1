"""`hl-local mcp`: an MCP server on stdio for coding agents, over a running hl-local or a --db file.

Built on the official `mcp` Python SDK (MCPServer). The tools answer text (cli/digests.py,
cli/timeline.py say what each holds and its bounds): `search` first, then the detail tools with the
ids it gave, `since` for what arrived after a moment. Errors an agent can act on (an unknown id, a
query that does not parse, no hl-local running) come back as tool errors with the message.
"""

from __future__ import annotations

import argparse
import sys
from typing import Literal

from hl_local import __version__
from hl_local.cli import digests, timeline
from hl_local.cli.client import Api, ApiRefused, Unreachable, add_target_options, api_of

NAME = "mcp"
HELP = "serve hl-local's sessions, errors, logs and traces to a coding agent (MCP over stdio)"

INSTRUCTIONS = """\
hl-local holds the telemetry of the app being developed on this machine: browser sessions recorded by
highlight.run, errors grouped by stack, logs and traces. Start with `search` (or `since` for what just
happened), then open what it lists by id: `error` (stack with the source lines around each frame,
through source maps, and the latest occurrence), `trace` (span tree, slow and failing spans marked),
`session` (what the user did, in order). Queries use Highlight's search language: `level=error
checkout`, `service_name=api duration>500ms`, `type=TypeError`. Answers are bounded text."""


def configure(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)


def run(args: argparse.Namespace) -> int:
    from mcp.server import MCPServer

    with api_of(args) as (api, _):
        server = MCPServer("hl-local", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
        register(server, api)
        print(f"hl-local mcp: reading {api.base_url}; speaking MCP on stdin/stdout", file=sys.stderr)
        server.run("stdio")
    return 0


Signal = Literal["sessions", "errors", "logs", "traces"]


def register(server: object, api: Api) -> None:
    """The tools, on an MCPServer."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    assert isinstance(server, MCPServer)

    def answer(make: object) -> str:
        try:
            assert callable(make)
            text: str = make()
            return text
        except (ApiRefused, Unreachable, ValueError) as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    def search(
        signal: Signal,
        query: str = "",
        start: str | None = None,
        end: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> str:
        """Search sessions, error groups, logs or traces (newest first, one line each, at most 50).

        query: Highlight's search language, e.g. `level=error checkout`, `type=KeyError`,
        `duration>500ms service_name=api`, `identifier=alice@example.com`; empty matches everything.
        start, end: ISO 8601 or epoch milliseconds. cursor: from the previous answer, for the next page.
        """
        return answer(lambda: digests.search(api, signal, query, start, end, limit, cursor))

    @server.tool()
    def error(group_id: str) -> str:
        """One error group: its stack (raise site first, through source maps, with the source lines
        around the top frames from this machine's files) and its latest occurrence (URL, session,
        trace, payload, the log lines around it)."""
        return answer(lambda: digests.error(api, group_id))

    @server.tool()
    def trace(trace_id: str) -> str:
        """One trace as an indented span tree with offsets and durations; slow and failing spans are
        marked; then its errors and the warnings and errors it logged."""
        return answer(lambda: digests.trace(api, trace_id))

    @server.tool()
    def session(session_id: str) -> str:
        """One browser session as a timeline: page loads, clicks, inputs, console errors, failed
        requests (with the backend trace each started), errors, with offsets into the recording."""
        return answer(lambda: timeline.session(api, session_id))

    @server.tool()
    def since(moment: str = "15m") -> str:
        """What arrived after `moment` (`15m`, `2h`, `30s` ago, epoch milliseconds, or ISO 8601): new
        error groups, groups that happened again, error log lines, traces with errors, sessions."""
        return answer(lambda: digests.since(api, moment))
