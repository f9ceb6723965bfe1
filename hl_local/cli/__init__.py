"""The `hl-local` command: `hl-local VERB [options]`, one module per verb; `serve` is the default.

Conventions every verb follows (cli/options.py has the mechanics):
- every option `--some-name` can also come from `HL_LOCAL_SOME_NAME`; flags win;
- an error is one line on stderr, `hl-local: what is wrong; what to do`, never a traceback;
- exit codes: 0 success, 1 a failure the message explains, 2 a usage error (a bad flag or
  environment value), 130 interrupted; a verb that runs a command passes its status through;
- progress only on a terminal, plain lines when piped.

A verb is a module with NAME, HELP, `configure(parser)` and `run(args) -> int`, listed in VERBS.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from hl_local.build_info import VersionAction
from hl_local.cli import clear, export, import_, info, mcp, prune, run, serve, tail
from hl_local.cli.options import UsageError
from hl_local.errors import HlLocalError

VERBS: list[ModuleType] = [serve, info, export, import_, run, tail, mcp, prune, clear]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hl-local",
        description="A local home for Highlight.io SDK and OpenTelemetry data, in one DuckDB file.",
    )
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="VERB")
    for verb in VERBS:
        verb_parser = sub.add_parser(verb.NAME, help=verb.HELP, description=verb.HELP)
        verb.configure(verb_parser)
        verb_parser.set_defaults(run=verb.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbs = {verb.NAME for verb in VERBS}
    if not argv or (argv[0] not in verbs and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, serve.NAME)
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageError as exc:
        print(f"hl-local: {exc}", file=sys.stderr)
        return 2
    except HlLocalError as exc:
        print(f"hl-local: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
