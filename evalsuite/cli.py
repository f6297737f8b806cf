"""The ``evalsuite`` command: one sub-command per module in ``evalsuite.commands``.

Each such module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors are one sentence on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from evalsuite import __version__, commands
from evalsuite.errors import EvalsuiteError

EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error (argparse prints the whole
    usage block first); the exit code is the same 2."""

    def error(self, message: str):
        self.exit(EXIT_ERROR, f"evalsuite: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evalsuite", description="Transfer evaluation of self-supervised backbones.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"evalsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except EvalsuiteError as exc:
        if args.debug:
            raise
        print(f"evalsuite: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("evalsuite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `evalsuite list archs | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141


if __name__ == "__main__":
    sys.exit(main())
