"""Layers point down (DESIGN.md): core never imports the editor or Qt, nothing below the entry points imports them,
no import goes from a lower layer to a higher one, and there is no import loop, between modules or between
packages. Checked on the source with ``ast``, so a lazy import inside a function, and a module named to
``importlib.import_module``, are caught too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(core.__file__).parents[1]
ENTRY_POINTS = (
    "core.cli",
    "core.commands",
    "core.geninv.bench",
    "core.zoo.bench_eval",
    "core.study.server.bench",
    "editor.bench_live",
)
"""Layer 4: the CLI and the benchmarks. Only other entry points may import them."""
ENTRY_POINT_FILES = (
    "core/cli.py",
    "core/commands",
    "core/geninv/bench.py",
    "core/zoo/bench_eval.py",
    "core/study/server/bench.py",
    "editor/bench_live.py",
    "editor/app.py",
)


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


LAYERS: dict[str, int] = {
    # 1: basics
    "core": 1,
    "core.budget": 1,
    "core.cache": 1,
    "core.data": 1,
    "core.device": 1,
    "core.errors": 1,
    "core.files": 1,
    "core.images": 1,
    "core.interrupt": 1,
    "core.labels": 1,
    "core.paths": 1,
    # 2: sharded work
    "core.sharding": 2,
    # 3: features
    "core.attacks": 3,
    "core.certify": 3,
    "core.collection": 3,
    "core.geninv": 3,
    "core.sensitivity": 3,
    "core.study": 3,
    "core.training": 3,
    "core.zoo": 3,
    # 4: the study service and the editor's views
    "core.study.server": 4,
    "editor": 4,
    "editor.runtime": 4,
    "editor.screenshot": 4,
    "editor.settings": 4,
    "editor.state": 4,
    "editor.widgets": 4,
    "editor.workers": 4,
    "editor.xcb_check": 4,
    # 5: entry points
    "core.cli": 5,
    "core.commands": 5,
    "core.geninv.bench": 5,
    "core.zoo.bench_eval": 5,
    "core.study.server.bench": 5,
    "editor.app": 5,
    "editor.bench_live": 5,
}
"""Each module's layer, by its longest listed prefix. A module that matches none fails the test: give it a layer."""


def module_files(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module and package under ``root``/core and ``root``/editor."""
    found = {}
    for top in ("core", "editor"):
        for path in (root / top).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that ``name`` imports anywhere in its source: import statements (relative ones resolved, nested
    ones included) and ``importlib.import_module("...")`` strings. ``from package import submodule`` counts as an
    import of the submodule only (the package's ``__init__`` runs first in any case)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names} & known
            named |= submodules or {module}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            named.add(node.args[0].value)
    ours = set()
    for module in named:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            ours.add(module)
    return ours


def import_graph(root: Path) -> dict[str, set[str]]:
    files = module_files(root)
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def layer_prefix(module: str) -> str | None:
    """The longest prefix of ``module`` listed in ``LAYERS``; the top packages (``core``, ``editor``) match only
    themselves, so that a new module must be given its layer."""
    if module in LAYERS:
        return module
    parts = module.split(".")
    for size in range(len(parts) - 1, 1, -1):
        if ".".join(parts[:size]) in LAYERS:
            return ".".join(parts[:size])
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph folded onto the units of ``LAYERS`` (a feature package, a basic module, an entry point)."""
    folded: dict[str, set[str]] = {}
    for source, targets in graph.items():
        unit = layer_prefix(source) or source
        folded.setdefault(unit, set()).update(
            target_unit for target in targets if (target_unit := layer_prefix(target) or target) != unit
        )
    return folded


def test_every_module_has_a_layer() -> None:
    assert [name for name in sorted(module_files(ROOT)) if layer_prefix(name) is None] == []


def test_imports_point_down() -> None:
    """No module imports one of a higher layer (features may import features, as long as no loop forms)."""

    def layer(module: str) -> int:
        return LAYERS[layer_prefix(module) or module]

    up = [
        f"{source} (layer {layer(source)}) -> {target} (layer {layer(target)})"
        for source, targets in sorted(import_graph(ROOT).items())
        for target in sorted(targets)
        if layer_prefix(source) and layer_prefix(target) and layer(target) > layer(source)
    ]
    assert up == []


def test_no_import_loops_between_modules_or_packages() -> None:
    graph = import_graph(ROOT)
    assert cycles(graph) == []
    assert cycles(package_graph(graph)) == []


def test_loops_and_lazy_imports_are_found(tmp_path: Path) -> None:
    """The checker itself: a loop through a lazy import and an ``import_module`` string is reported."""
    package = tmp_path / "core" / "pkg"
    package.mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "editor").mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from core.pkg import b\n")
    (package / "b.py").write_text("import importlib\nimportlib.import_module('core.pkg.c')\n")
    (package / "c.py").write_text("from .a import f\n")
    graph = import_graph(tmp_path)
    assert graph["core.pkg.a"] == {"core.pkg.b"} and graph["core.pkg.b"] == {"core.pkg.c"}
    assert cycles(graph) == [["core.pkg.a", "core.pkg.b", "core.pkg.c"]]
