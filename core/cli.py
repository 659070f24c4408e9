"""The ``invariance`` command: one sub-command per feature, errors as one line and a non-zero exit code.

Exit codes, the same for every sub-command (``tests/core/test_exit_codes.py`` holds each command to them):

====  ==========================================================================================================
0     done
1     bad data: an input file, folder, model or collection is missing, unreadable or invalid
2     bad usage: an unknown option, a missing argument, an option value out of range or options that clash
      (also a command group run without its sub-command, which prints the group's help)
3     internal error (a bug; rerun with --debug for the traceback)
130   interrupted by Ctrl-C (SIGINT); what was finished is kept and the same command resumes
143   stopped by SIGTERM; as 130
====  ==========================================================================================================

Each feature module of ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its sub-command(s)
and sets ``handler`` (a function of the parsed arguments returning an exit code) on each.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, Final

from core import __version__
from core.commands import bench, collection, data, geninv, models, scorecard, study, train, zoo
from core.errors import InvarianceError, UsageError
from core.interrupt import Interrupted, exit_code, interruptible

EXIT_OK: Final = 0
EXIT_BAD_DATA: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3

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
        return EXIT_USAGE
    try:
        with interruptible():
            return int(args.handler(args) or 0)
    except UsageError as error:
        print(f"invariance: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvarianceError as error:
        print(f"invariance: error: {error}", file=sys.stderr)
        return EXIT_BAD_DATA
    except Interrupted as error:
        print(error.message, file=sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt as error:
        print("invariance: interrupted", file=sys.stderr)
        return exit_code(error)
    except Exception as error:
        if args.debug:
            raise
        print(f"invariance: internal error: {type(error).__name__}: {error} (rerun with --debug)", file=sys.stderr)
        return EXIT_INTERNAL


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
