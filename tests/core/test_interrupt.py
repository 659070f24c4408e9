"""Ctrl-C and SIGTERM end a command with one line and 130 / 143 (core.interrupt, core.cli)."""

from __future__ import annotations

import os
import signal

import pytest

from core.interrupt import Interrupted, Terminated, exit_code, interruptible, signal_of


def test_sigterm_raises_terminated_inside_the_block_only() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), interruptible():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_exit_codes_follow_the_signal() -> None:
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(Terminated()) == 143
    assert exit_code(Interrupted(2, 5, cause=Terminated())) == 143
    assert signal_of(Interrupted(2, 5, cause=KeyboardInterrupt())) == signal.SIGINT


def test_interrupted_message_counts_what_was_kept() -> None:
    error = Interrupted(3, 10, unit="items", detail="the same command resumes")
    assert error.message == "interrupted: 3 of 10 items kept; the same command resumes"
    assert isinstance(error, KeyboardInterrupt)


def test_report_interrupted_prints_the_line_and_returns_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    from core.commands import report_interrupted

    assert report_interrupted(Terminated(), 4, 9, unit="items") == 143
    assert capsys.readouterr().err == "interrupted: 4 of 9 items kept\n"
    assert report_interrupted(KeyboardInterrupt(), 0, 1) == 130
