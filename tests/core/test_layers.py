"""Layers point down (DESIGN.md): core never imports the editor or Qt, and nothing below the entry points
imports them. Checked on the source with ``ast``, so a lazy import inside a function is caught too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(core.__file__).parents[1]
ENTRY_POINTS = ("core.cli", "core.commands", "core.geninv.bench", "editor.bench_live")
"""Layer 4: the CLI and the benchmarks. Only other entry points may import them."""
ENTRY_POINT_FILES = ("core/cli.py", "core/commands", "core/geninv/bench.py", "editor/bench_live.py", "editor/app.py")


def test_core_imports_without_qt() -> None:
    """Every core module imports with PyQt6 made unimportable."""
    code = (
        "import sys, importlib, pkgutil\n"
        "sys.modules['PyQt6'] = None\n"
        "import core\n"
        "for info in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    importlib.import_module(info.name)\n"
        "qt = ('PyQt', 'pyqtgraph', 'superqt')\n"
        "loaded = [n for n, m in sys.modules.items() if m is not None and n.startswith(qt)]\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


UPPER_LAYERS = ("editor", "PyQt6", "pyqtgraph")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import statement in ``path``, top-level or nested."""
    lines: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            lines += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            lines.append((node.lineno, node.module))
    return sorted(lines)


def upper_layer_imports(folder: Path) -> list[str]:
    """``file:line: module`` for every import statement (top-level or nested) of the editor, PyQt6 or pyqtgraph."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        found += [f"{path}:{line}: {name}" for line, name in imports_of(path) if name.split(".")[0] in UPPER_LAYERS]
    return found


def test_core_source_never_imports_the_editor_or_qt() -> None:
    """Not even lazily, inside a function, where importing every module would not see it."""
    assert upper_layer_imports(ROOT / "core") == []


def test_upper_layer_imports_are_found_wherever_they_are(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "lazy.py").write_text(
        "import os\n\ndef run():\n    if os:\n        from editor.app import MainWindow\n"
        "    import PyQt6.QtCore, json\n    import pyqtgraph as pg\n"
    )
    (tmp_path / "fine.py").write_text("from core import editors\nimport editorial\nfrom . import editor\n")
    found = upper_layer_imports(tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == ["editor.app", "PyQt6.QtCore", "pyqtgraph"]
    assert found[0].endswith("lazy.py:5: editor.app")


def test_only_entry_points_import_the_entry_points() -> None:
    """The CLI and the benchmarks sit on top: library code and widgets never import them."""
    found = []
    for path in sorted([*(ROOT / "core").rglob("*.py"), *(ROOT / "editor").rglob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ENTRY_POINT_FILES):
            continue
        found += [
            f"{relative}:{line}: {name}"
            for line, name in imports_of(path)
            if any(name == top or name.startswith(f"{top}.") for top in ENTRY_POINTS)
        ]
    assert found == []
