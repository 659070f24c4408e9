"""Exceptions raised by the core library.

Every error the product reports to a user derives from :class:`InvarianceError`; its message is one line
that says what went wrong and where (file, model name, index). The CLI and the editor print that line;
anything else escaping is a bug.
"""

from __future__ import annotations


class InvarianceError(Exception):
    """Base class for errors that are the user's input or environment, not a bug."""


class DataError(InvarianceError):
    """MNIST could not be found, verified or parsed."""


class BudgetError(InvarianceError):
    """An unknown norm, a negative budget, or images of mismatched shape."""


class ModelError(InvarianceError):
    """An unknown model name, a missing or corrupt checkpoint or model card."""


class CollectionError(InvarianceError):
    """A labeled set could not be read, written, imported or exported."""


class StudyError(InvarianceError):
    """A study pack, an answers file or a report request is invalid."""


class UsageError(InvarianceError):
    """The command line itself is wrong: an option value out of range or options that exclude each other.

    The CLI exits with 2 for it, as for the mistakes argparse catches; every other InvarianceError (a missing or
    invalid input file, folder, model or collection) exits with 1.
    """
