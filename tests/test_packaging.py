"""The product installs as a wheel: the package list is complete, the checkpoints travel inside it, and an installed
wheel runs the zoo, a prediction and the editor from a folder outside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import core
from core.paths import checkpoints_dir

ROOT = Path(core.__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CARD_OR_WEIGHTS = re.compile(r"^[a-z0-9][a-z0-9._\-]*\.(json|safetensors)$")
PER_IMAGE_RECORD = re.compile(r"^[a-z0-9][a-z0-9.\-]*\.autoattack-(l1|l2|linf)-[0-9.]+\.npz$")


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("core", "editor")
        for path in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set(), "add these packages to [tool.setuptools] packages"
    assert listed - found == {"invariance_checkpoints"}


def test_checkpoints_hold_only_weights_cards_and_per_image_records() -> None:
    """checkpoints/ is the shipped zoo and nothing else: no logs, packs, journals or backups."""
    folder = checkpoints_dir()
    assert folder.resolve() == (ROOT / "checkpoints").resolve()
    entries = sorted(folder.iterdir())
    strays = [
        p.name
        for p in entries
        if not (p.is_file() and (CARD_OR_WEIGHTS.match(p.name) or PER_IMAGE_RECORD.match(p.name)))
    ]
    assert strays == []
    assert len(entries) <= 60


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (built,) = out.glob("invariance_lab-*.whl")
    return built


def test_the_wheel_carries_the_checkpoints(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (ROOT / "checkpoints").iterdir()}
    assert {f"invariance_checkpoints/{name}" for name in shipped} <= names
    assert "core/study/page.html" in names
    assert not [name for name in names if name.startswith(("tests/", "docs/"))]


def test_an_installed_wheel_runs_from_any_folder(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv sees this environment's packages (torch, PyQt6, ...) but only the wheel's own code."""
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    (site_packages,) = target.glob("lib/python*/site-packages")
    # Directories named in a .pth file join sys.path after the venv's own, and .pth files inside them are not run,
    # so this environment's editable install of the checkout stays out.
    (site_packages / "test-environment.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")))
    python = target / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVARIANCE_") and k != "PYTHONPATH"}
    env |= {"QT_QPA_PLATFORM": "offscreen", "INVARIANCE_THREADS": "1", "INVARIANCE_USER_DIR": str(tmp_path / "user")}

    def run(*argv: str) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    located = run(
        str(python), "-c", "import core, core.paths; print(core.__file__); print(core.paths.checkpoints_dir())"
    ).split()
    assert all(str(site_packages) in line for line in located), located
    assert "undefended" in run(str(target / "bin" / "invariance"), "zoo", "--json")
    prediction = run(
        str(python),
        "-c",
        "import torch; from core.data import load_mnist; from core.images import to_float; from core.zoo import load\n"
        "images, labels = load_mnist('test')\n"
        "x = torch.from_numpy(to_float(images[:20])).unsqueeze(1)\n"
        "print(int((load('undefended', 'cpu')(x).argmax(1).numpy() == labels[:20]).sum()))",
    )
    assert int(prediction) >= 18
    shot = tmp_path / "editor.png"
    run(str(target / "bin" / "invariance-editor"), "--index", "0", "--screenshot", str(shot))
    assert shot.stat().st_size > 10_000
