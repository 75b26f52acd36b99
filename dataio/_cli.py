"""``python -m dataio``: the capability report and the demo (API.md §10).

Exit status 0 on success, 1 on an operation error (one line ``dataio: error: <Type>:
<message>`` on stderr, no traceback), 2 on usage errors. A closed stdout pipe ends the
command quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(prog="python -m dataio", description="dataio capability report and tools")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser("info", help="capability report (the default)")
    info.add_argument("--json", action="store_true", dest="json_after", help="machine-readable output")
    demo = commands.add_parser("demo", help="load a synthetic JPEG set with the quick-start pipeline")
    demo.add_argument("--json", action="store_true", dest="json_after", help=argparse.SUPPRESS)
    return parser, demo


def _info(as_json: bool) -> int:
    from dataio._report import render_text, report_dict

    report = report_dict()
    print(json.dumps(report, indent=2) if as_json else render_text(report))
    return 0


def _run(args: argparse.Namespace) -> int:
    as_json = args.json or getattr(args, "json_after", False)
    if args.command == "demo":
        from dataio._demo import run_demo

        return run_demo(args)
    return _info(as_json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser, demo = _parser()
    from dataio._demo import add_arguments

    add_arguments(demo)
    args = parser.parse_args(argv)
    try:
        status = _run(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # the reader went away: exit quietly (Python docs recipe)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, no traceback (API.md §10)
        print(f"dataio: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
