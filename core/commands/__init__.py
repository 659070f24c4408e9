"""Sub-commands of the ``invariance`` CLI, one module per feature (see ``core.cli``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from core.interrupt import Interrupted, exit_code


def help_handler(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command group run without a sub-command: print the group's help, exit code 2."""

    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show_help


def report_interrupted(error: KeyboardInterrupt, kept: int, total: int, *, unit: str = "", detail: str = "") -> int:
    """For a command that prints its partial results itself before it stops: print ``interrupted: N of M kept``
    on stderr and return the exit code (130 after Ctrl-C, 143 after SIGTERM). A command with nothing else to
    print can instead raise :class:`~core.interrupt.Interrupted`, which the CLI reports the same way."""
    interrupted = Interrupted(kept, total, cause=error, unit=unit, detail=detail)
    print(interrupted.message, file=sys.stderr)
    return exit_code(interrupted)
