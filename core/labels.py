"""Label conventions shared by the editor, collections and studies."""

from __future__ import annotations

from typing import Final

NOT_A_DIGIT: Final = -1
"""The human label for an image that is not a digit at all."""

DIGITS: Final = tuple(range(10))


def label_name(label: int) -> str:
    """'0'..'9', or 'not a digit'."""
    return "not a digit" if label == NOT_A_DIGIT else str(label)


def is_valid_label(label: int) -> bool:
    return label == NOT_A_DIGIT or 0 <= label <= 9
