"""Stopping a long command cleanly: Ctrl-C and SIGTERM become one exception, and its exit code.

Python raises :class:`KeyboardInterrupt` on SIGINT (Ctrl-C) by itself. Inside :func:`interruptible`, SIGTERM
raises :class:`Terminated`, a KeyboardInterrupt too, so one ``except KeyboardInterrupt`` in a long job handles
both. A job that has kept some of its units (items written, epochs saved) says so by raising
:class:`Interrupted` from that handler; the CLI prints ``interrupted: N of M kept`` and exits with
:func:`exit_code` (130 after SIGINT, 143 after SIGTERM)::

    with interruptible():                      # the CLI wraps every command in this already
        try:
            for unit in units:
                write(unit)                    # each finished unit is durable at once
                kept += 1
        except KeyboardInterrupt as error:
            raise Interrupted(kept, len(units), cause=error) from None
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Final

SIGINT_EXIT: Final = 128 + signal.SIGINT
"""130: the exit code after Ctrl-C."""

SIGTERM_EXIT: Final = 128 + signal.SIGTERM
"""143: the exit code after SIGTERM."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (inside :func:`interruptible`)."""


class Interrupted(KeyboardInterrupt):
    """A long job stopped on Ctrl-C or SIGTERM after keeping ``kept`` of its ``total`` units.

    ``unit`` names them in the message ("items", "models"); ``detail`` adds where they are or how to go on.
    ``signum`` is the signal that stopped it (from ``cause``: SIGTERM for :class:`Terminated`, else SIGINT).
    """

    def __init__(
        self,
        kept: int,
        total: int,
        *,
        cause: BaseException | None = None,
        unit: str = "",
        detail: str = "",
    ) -> None:
        self.kept = int(kept)
        self.total = int(total)
        self.unit = unit
        self.detail = detail
        self.signum = signal_of(cause) if cause is not None else signal.SIGINT
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """``interrupted: N of M kept``, with the unit and the detail when given."""
        unit = f" {self.unit}" if self.unit else ""
        detail = f"; {self.detail}" if self.detail else ""
        return f"interrupted: {self.kept} of {self.total}{unit} kept{detail}"


def signal_of(error: BaseException) -> signal.Signals:
    """The signal behind an interruption: SIGTERM for :class:`Terminated` (or an Interrupted caused by one)."""
    if isinstance(error, Interrupted):
        return error.signum
    return signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT


def exit_code(error: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (128 + the signal number, as a shell reports it)."""
    return 128 + int(signal_of(error))


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (SIGINT keeps raising KeyboardInterrupt).

    The previous SIGTERM handler comes back when the block ends. Off the main thread (where Python cannot set
    signal handlers) the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
