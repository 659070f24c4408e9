"""Process-wide settings for a responsive editor, shared by the app and the live benchmark."""

from __future__ import annotations

import sys
from typing import Final

import torch

GIL_SWITCH_INTERVAL_S: Final = 0.0005


def configure_runtime() -> None:
    """Process-wide settings for a responsive editor.

    The GUI thread projects single images, so it uses one torch thread (workers set their own counts); and the
    GIL is handed between the GUI thread and the inference worker every 0.5 ms instead of Python's default 5 ms,
    which otherwise adds up to 5 ms to a stroke whenever both threads run Python code.
    """
    torch.set_num_threads(1)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
