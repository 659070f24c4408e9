"""Import labeled sets: the paper's public release, plain ``.npz`` files and our own exports.

One module per format (``paper``, ``npz``, ``hf_imagefolder``, ``csv_table``, ``imagefolder``), each turning its
source into rows (keyword arguments of :meth:`Collection.add <core.collection.store.Collection.add>`); what they
share lives in ``common``. :data:`IMPORTERS` names them all: add a format there.

- :func:`import_paper` reads the layout of ftramer/Excessive-Invariance (``invariance_examples/``): 100 MNIST test
  indices (``indexs.npy``), the ℓ0 set ``l0/automated.npy`` (uint8 0-255) and the ℓ∞ sets under ``linf/``
  (``automated_eps03.npy`` float32 0-255, ``automated_eps04.npy`` uint8, ``manual_eps04.npy`` with its own
  ``manual_indexs.npy``), each with ``*_labels.npy`` holding the human consensus label.
- :func:`import_npz` reads ``images`` (N, 28, 28) uint8 or float in [0, 1], ``labels`` (the original labels
  unless ``label`` says otherwise), optional ``originals`` (uint8 or float in [0, 1], like ``images``) and
  ``source_indices`` (MNIST test); files written by ``invariance export --format npz`` or ``invariance geninv
  --out x.npz`` (the one npz layout, :func:`core.collection.export.write_npz`) round-trip every field.
- :func:`import_folder` reads a Hugging Face imagefolder (``metadata.jsonl``), a CSV export (``items.csv``) or a
  torchvision ImageFolder (class folders).

Every importer validates all inputs and builds every item before writing, so bad input leaves nothing behind
(CollectionError naming the file). The empty collection is made in a hidden folder beside ``out`` and renamed into
place; then the items go in one by one through its journal and lock, so Ctrl-C or a kill keeps those written,
and the same import again adds only the rest (:func:`~core.collection.importers.common.build_collection`).
Items outside their budget are kept with ``budget_violation`` set to the measured distance and are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from core.collection.importers.common import (
    ImportOptions,
    ImportReport,
    SetCount,
    build_collection,
    check_kind,
    check_out,
)
from core.collection.importers.csv_table import csv_rows
from core.collection.importers.hf_imagefolder import hf_rows
from core.collection.importers.imagefolder import imagefolder_rows
from core.collection.importers.npz import npz_rows
from core.collection.importers.paper import paper_root, paper_rows
from core.errors import CollectionError

RowReader = Callable[[Path, ImportOptions], list[dict[str, Any]]]

IMPORTERS: Final[dict[str, RowReader]] = {
    "paper": paper_rows,
    "npz": npz_rows,
    "hf": hf_rows,
    "csv": csv_rows,
    "imagefolder": imagefolder_rows,
}
"""Every import format by name: a function from (source, options) to rows; add a format here."""

FOLDER_MARKERS: Final = (("metadata.jsonl", "hf"), ("items.csv", "csv"))
"""A file that tells a folder's format; a folder with neither is a torchvision ImageFolder."""


def import_paper(folder: str | Path, out: str | Path, *, name: str = "", author: str = "") -> ImportReport:
    """Import the paper's four sets from ``folder`` (repository root or its ``invariance_examples``) into ``out``."""
    root = paper_root(folder)
    out = check_out(out)
    rows = IMPORTERS["paper"](root, ImportOptions())
    return build_collection(out, name or "Tramèr et al. 2020 invariance examples", author, rows, source=root)


def import_npz(
    path: str | Path,
    out: str | Path,
    *,
    norm: str | None = None,
    eps: float | None = None,
    label: str = "original",
    name: str = "",
    author: str = "",
) -> ImportReport:
    """Import a plain ``.npz`` (``images``, ``labels``, optional ``source_indices``) or one of our npz exports.

    Plain files: ``labels`` are the original labels (the digits' true labels; ``label`` may say they are the
    ``intended`` or the ``human``/``consensus`` labels instead); ``source_indices`` refer to the MNIST test split;
    ``norm``/``eps`` give every item's budget. Our exports (recognised by ``intended_labels``) restore ids, all
    labels, rater labels, predictions, extra fields, sources, originals, set names, methods and budgets.
    """
    path = Path(path)
    out = check_out(out)
    check_kind(label)
    if (norm is None) != (eps is None):
        raise CollectionError("--norm and --eps go together")
    rows = IMPORTERS["npz"](path, ImportOptions(label=label, norm=norm, eps=eps))
    return build_collection(out, name or path.stem, author, rows, source=path)


def import_folder(
    folder: str | Path, out: str | Path, *, label: str = "intended", name: str = "", author: str = ""
) -> ImportReport:
    """Import a Hugging Face imagefolder (``metadata.jsonl``), a CSV export or a torchvision ImageFolder.

    ``label`` (one of :data:`LABEL_KINDS <core.collection.schema.LABEL_KINDS>`) says what the ImageFolder
    classes / the HF and CSV ``label`` field mean; rows written by our export carry every field and restore them.
    """
    folder = Path(folder)
    out = check_out(out)
    check_kind(label)
    if not folder.is_dir():
        raise CollectionError(f"{folder}: no such directory")
    fmt = next((fmt for marker, fmt in FOLDER_MARKERS if (folder / marker).is_file()), "imagefolder")
    rows = IMPORTERS[fmt](folder, ImportOptions(label=label))
    return build_collection(out, name or folder.name, author, rows, source=folder)


__all__ = ["IMPORTERS", "ImportOptions", "ImportReport", "SetCount", "import_folder", "import_npz", "import_paper"]
