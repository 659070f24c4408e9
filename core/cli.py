"""The ``invariance`` command: one sub-command per feature, errors as one line and a non-zero exit code.

Each feature module of ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its sub-command(s)
and sets ``handler`` (a function of the parsed arguments returning an exit code) on each.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from core import __version__
from core.commands import bench, collection, data, geninv, models, scorecard, study, train, zoo
from core.errors import InvarianceError
from core.sharding import ChunksInterrupted

COMMAND_MODULES = (data, train, zoo, bench, study, collection, geninv, models, scorecard)
"""In the order of ``invariance --help``."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that never takes an abbreviation for an option (``--n`` is not ``--norm``).

    Sub-command parsers inherit the class (argparse builds them with ``type(parent)``), so this holds for every
    command and sub-command without each module having to ask.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="invariance",
        description="Invariance Lab batch tools: MNIST data, the model zoo, GenInv, labeled sets and studies.",
    )
    parser.add_argument("--version", action="version", version=f"invariance-lab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except InvarianceError as error:
        print(f"invariance: error: {error}", file=sys.stderr)
        return 1
    except ChunksInterrupted as interrupted:
        print(f"invariance: {interrupted} (the same command resumes from them)", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("invariance: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(f"invariance: internal error: {type(error).__name__}: {error} (rerun with --debug)", file=sys.stderr)
        return 3


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
