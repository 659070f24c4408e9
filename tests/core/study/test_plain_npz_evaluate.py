"""A plain labelled npz (``images`` + ``labels``) evaluates with its labels as the original labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.data import load_mnist


def test_plain_labelled_npz_evaluates_with_its_labels_as_originals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, labels = load_mnist("test")
    npz = tmp_path / "plain.npz"
    np.savez(npz, images=images[:12], labels=labels[:12])
    collection = tmp_path / "coll"
    assert main(["import", str(npz), "--out", str(collection)]) == 0
    capsys.readouterr()

    assert main(["evaluate", str(collection), "--models", "undefended", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    items = report["items"]
    assert len(items) == 12
    assert [item["original_label"] for item in items] == [int(label) for label in labels[:12]]
    # The undefended model classifies these clean test digits; a report that left them out would have no rows.
    predicted = [item["predictions"]["undefended"] for item in items]
    assert sum(p == int(label) for p, label in zip(predicted, labels[:12], strict=True)) >= 11
