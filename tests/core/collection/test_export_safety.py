"""``export --force`` never deletes anything it did not write itself as an export."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.collection import Collection, export_collection
from core.collection.export import EXPORT_FORMATS
from core.errors import CollectionError


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 (files), "dir" (folders) or "link:target" for everything under ``root``."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = f"link:{os.readlink(path)}"
            elif path.is_dir():
                found[key] = "dir"
            else:
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``project/coll`` (a collection), ``project/notes.txt`` and ``project/sibling/user.txt`` (user files)."""
    root = tmp_path / "project"
    with Collection.create(root / "coll", "safety") as coll:
        rng = np.random.default_rng(0)
        for label in (3, 5):
            coll.add(rng.integers(0, 256, (28, 28)).astype(np.uint8), intended_label=label, method="imported")
    (root / "notes.txt").write_text("the user's own file")
    (root / "sibling").mkdir()
    (root / "sibling" / "user.txt").write_text("keep me")
    return root


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("where", ["parent", "collection", "inside", "sibling", "home"])
def test_force_never_touches_anything_but_its_own_export(
    tmp_path: Path,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    where: str,
) -> None:
    home = tmp_path  # stands in for the home folder (and for "/"): it holds the project and the user's files
    monkeypatch.setenv("HOME", str(home))
    out = {
        "parent": project,
        "collection": project / "coll",
        "inside": project / "coll" / "images",
        "sibling": project / "sibling",
        "home": home,
    }[where]
    before = tree_digest(home)
    args = ["export", str(project / "coll"), "--format", fmt, "--out", str(out), "--force"]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert err.startswith("invariance: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert tree_digest(home) == before


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_force_replaces_only_an_earlier_export(tmp_path: Path, project: Path, fmt: str) -> None:
    out = tmp_path / ("out.npz" if fmt == "npz" else "out")
    with Collection.open(project / "coll", read_only=True) as coll:
        export_collection(coll, out, fmt)
        first = tree_digest(tmp_path / "project")
        export_collection(coll, out, fmt, force=True)  # an export replaces an export
        assert tree_digest(tmp_path / "project") == first
        if out.is_dir():
            (out / "mine.txt").write_text("a file the user added")
            with pytest.raises(CollectionError, match="not written by"):
                export_collection(coll, out, fmt, force=True)
            assert (out / "mine.txt").read_text() == "a file the user added"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("content", ["manifest.json", ".lock", "user.txt"])
def test_force_refuses_a_folder_that_is_not_an_export(tmp_path: Path, project: Path, fmt: str, content: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / content).write_text("{}")
    before = tree_digest(tmp_path)
    with Collection.open(project / "coll", read_only=True) as coll, pytest.raises(CollectionError):
        export_collection(coll, out, fmt, force=True)
    assert tree_digest(tmp_path) == before


def test_force_refuses_a_plain_file_that_is_not_an_export(tmp_path: Path, project: Path) -> None:
    out = tmp_path / "data.npz"
    np.savez(out, images=np.zeros((1, 28, 28), np.uint8))
    before = out.read_bytes()
    with Collection.open(project / "coll", read_only=True) as coll, pytest.raises(CollectionError):
        export_collection(coll, out, "npz", force=True)
    assert out.read_bytes() == before


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_output_under_a_file_is_one_line_error(tmp_path: Path, project: Path, capsys, fmt: str) -> None:
    (tmp_path / "afile").write_text("x")
    args = ["export", str(project / "coll"), "--format", fmt, "--out", str(tmp_path / "afile" / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("invariance: error:") and err.count("\n") == 1
    assert (tmp_path / "afile").read_text() == "x"
