"""Labeled sets: a crash-safe collection of edited digits, with export to common layouts and import of others.

- :class:`Collection` / :class:`Item` (``store``, ``schema``): the on-disk collection and its records; ``store``
  leans on ``validation`` (checking and building items), ``mnist_lookup`` (source digits), ``manifest``,
  ``journal`` and ``lock``.
- :func:`export_collection` (``export``): npz, torchvision ImageFolder, CSV, Hugging Face imagefolder
  (``EXPORTERS``); ``write_npz`` writes the project's one npz layout.
- :func:`import_paper`, :func:`import_npz`, :func:`import_folder` (``importers``, one module per format,
  ``IMPORTERS``): the paper's public release (ftramer/Excessive-Invariance), plain ``.npz`` files and our own
  exports.
"""

from core.collection.export import EXPORT_FORMATS, UNKNOWN_LABEL, ExportReport, export_collection
from core.collection.importers import ImportReport, SetCount, import_folder, import_npz, import_paper
from core.collection.schema import FORMAT_VERSION, METHODS, Item, now_iso
from core.collection.store import Collection

__all__ = [
    "EXPORT_FORMATS",
    "FORMAT_VERSION",
    "METHODS",
    "UNKNOWN_LABEL",
    "Collection",
    "ExportReport",
    "ImportReport",
    "Item",
    "SetCount",
    "export_collection",
    "import_folder",
    "import_npz",
    "import_paper",
    "now_iso",
]
