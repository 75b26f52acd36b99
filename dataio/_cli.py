"""``python -m dataio [--json] [info|demo|head|cat|ls|parquet|safetensors ...]`` (docs/api.md §10).

``info`` is the capability report, ``demo`` the quick-start run; the IO and format commands
live in :mod:`dataio._cli_tools`.

Exit status: 0 on success; 1 on an operation error, reported as the single line
``dataio: error: <Type>: <message>`` on stderr with no traceback; 2 on a usage error
(argparse's own). A reader that closes stdout early (``| head``) ends the command
quietly. ``--json`` may come before or after the command; no command means ``info``.
Each command's module is imported only when that command runs, so a broken or heavy
command never stops the report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any


class _CommandParser(argparse.ArgumentParser):
    """A sub-command parser that adds its options on first use, importing the command's module only then."""

    def __init__(self, *args: Any, add_options: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_options = add_options

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override] # the stub overloads
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        if self._add_options is not None:
            add_options, self._add_options = self._add_options, None
            add_options(self)
        return super().parse_known_args(args, namespace)


def _demo_options(parser: argparse.ArgumentParser) -> None:
    from dataio._demo import add_arguments

    add_arguments(parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dataio", description="dataio-gpu capability report and tools")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--traceback", action="store_true", help="on an error, show the full traceback")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    info = commands.add_parser("info", help="capability report: GPU stack, subsystems, env overrides (default)")
    # its own dest: a sub-parser's defaults overwrite the parent's values (argparse)
    info.add_argument("--json", action="store_true", dest="json_after", help="print machine-readable JSON")
    commands.add_parser("demo", help="make a synthetic JPEG set and load it with the quick-start pipeline",
                        description="Make a synthetic set of ImageNet-shaped JPEGs and load it with the README's "
                                    "quick-start pipeline (decode, resize, crop, normalize), printing the executor "
                                    "that ran and the samples per second.", add_options=_demo_options)
    from dataio import _cli_tools

    _cli_tools.add_arguments(commands)
    return parser


def _info(args: argparse.Namespace) -> int:
    from dataio._report import render_text, report_dict

    report = report_dict()
    as_json = args.json or getattr(args, "json_after", False)
    print(json.dumps(report, indent=2) if as_json else render_text(report))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from dataio._demo import run_demo

    return run_demo(args)


def _tool(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from dataio import _cli_tools

        return _cli_tools.COMMANDS[name](args)

    return run


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": _info, "demo": _demo, **{name: _tool(name) for name in ("head", "cat", "ls", "parquet", "safetensors")}}


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again (Python docs' recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 1 on an operation error (one line on stderr),
        130 on Ctrl-C.

    Raises:
        SystemExit: on a usage error (status 2) or ``--help`` (status 0), from argparse.
    """
    args = None
    try:
        args = _parser().parse_args(argv)
        status = _COMMANDS[args.command or "info"](args)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()  # the reader has what it wanted; quiet, and 0 so `set -o pipefail` pipelines pass
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, no traceback (docs/api.md §10), unless --traceback
        if args is not None and args.traceback:
            raise
        message = " ".join(str(exc).split())
        print(f"dataio: error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    return status
