"""Sub-commands of the ``invariance`` CLI, one module per feature (see ``core.cli``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def help_handler(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command group run without a sub-command: print the group's help, exit code 2."""

    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show_help
