"""Fuzzing the folder importers (paper layout, Hugging Face imagefolder, CSV export): CollectionError or success.

Never another exception, and a failed import leaves nothing behind. Split from test_collection_fuzz.py to keep
each file fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_collection import (
    FUZZ_WRITES,
    PAPER_FILES,
    any_array,
    json_values,
    leftovers,
    mutate,
    scratch,
    write_paper_layout,
    write_small_collection,
)
from hypothesis import given
from hypothesis import strategies as st

from core.collection import Collection, export_collection, import_folder, import_paper
from core.errors import CollectionError


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_collection(tmp_path_factory.mktemp("fuzz") / "template")


@pytest.fixture(scope="module")
def paper_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paper")
    write_paper_layout(root, count=3, manual=2)
    return root


@FUZZ_WRITES
@given(file=st.sampled_from(PAPER_FILES), replacement=st.one_of(any_array, st.binary(max_size=200)))
def test_paper_importer_fuzz(paper_template: Path, file: str, replacement: np.ndarray | bytes) -> None:
    with scratch() as folder:
        repo = shutil.copytree(paper_template, folder / "repo")
        target = repo / "invariance_examples" / file
        if isinstance(replacement, bytes):
            target.write_bytes(replacement)
        else:
            np.save(target, replacement)
        try:
            report = import_paper(repo, folder / "out")
        except CollectionError as error:
            assert "\n" not in str(error)
            assert not (folder / "out").exists() and leftovers(folder) == []
        else:
            assert report.total > 0


@pytest.fixture(scope="module")
def hf_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hf") / "export"
    with Collection.open(template, read_only=True) as coll:
        export_collection(coll, out, "hf")
    return out


@FUZZ_WRITES
@given(row=st.integers(0, 2), path=st.lists(st.integers(0, 50), max_size=3), value=json_values)
def test_hf_importer_fuzz(hf_template: Path, row: int, path: list[int], value: Any) -> None:
    with scratch() as folder:
        source = shutil.copytree(hf_template, folder / "hf")
        lines = (source / "metadata.jsonl").read_text().splitlines()
        lines[row] = json.dumps(mutate(json.loads(lines[row]), path, value))
        (source / "metadata.jsonl").write_text("\n".join(lines) + "\n")
        try:
            report = import_folder(source, folder / "out")
        except CollectionError as error:
            assert "\n" not in str(error)
            assert not (folder / "out").exists() and leftovers(folder) == []
        else:
            assert report.total == 3


@pytest.fixture(scope="module")
def csv_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csv") / "export"
    with Collection.open(template, read_only=True) as coll:
        export_collection(coll, out, "csv")
    return out


@FUZZ_WRITES
@given(row=st.integers(0, 2), column=st.integers(0, 40), cell=st.text(max_size=12), extra=st.booleans())
def test_csv_importer_fuzz(csv_template: Path, row: int, column: int, cell: str, extra: bool) -> None:
    import csv as csv_module

    with scratch() as folder:
        source = shutil.copytree(csv_template, folder / "csv")
        with (source / "items.csv").open(newline="") as handle:
            table = list(csv_module.reader(handle))
        line = table[1 + row]
        line[column % len(line)] = cell
        if extra:
            line.append("surplus")
        with (source / "items.csv").open("w", newline="") as handle:
            csv_module.writer(handle).writerows(table)
        try:
            report = import_folder(source, folder / "out")
        except CollectionError as error:
            assert "\n" not in str(error)
            assert not (folder / "out").exists() and leftovers(folder) == []
        else:
            assert report.total == 3
