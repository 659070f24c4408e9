"""Every code block marked runnable in the docs runs.

A fenced ``bash``/``sh``/``shell`` or ``python`` block right after a line ``<!-- runnable -->`` (blank lines
between are allowed) in README.md, docs/*.md or docs/_incoming/*.md is run; ``<!-- runnable slow -->`` marks a
block that takes long: by default a document's other blocks run (they must not need the slow ones), and with
``-m slow`` all of its blocks. The blocks of one document run in order, in one fresh temporary folder (a later
block may use the files an earlier one wrote), with the venv's ``bin`` first on PATH (``invariance`` is this
checkout's), a private user folder and runs folder, and shell blocks under ``set -euo pipefail``. Any non-zero
exit fails the test, naming the file and line of the block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
DOCUMENTS: Final = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "docs" / "_incoming").glob("*.md")),
]
MARKER: Final = re.compile(r"^\s*<!--\s*runnable(\s+slow)?\s*-->\s*$")
FENCE: Final = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)")
SHELLS: Final = {"bash", "sh", "shell", "console"}
BLOCK_TIMEOUT_S: Final = 300


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    code: str
    slow: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def runnable_blocks(path: Path) -> list[Block]:
    """The marked blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    marked: bool | None = None  # None: no marker pending; else whether it said slow
    number = 0
    while number < len(lines):
        line = lines[number]
        match = MARKER.match(line)
        if match:
            marked = bool(match.group(1))
            number += 1
            continue
        fence = FENCE.match(line)
        if fence:
            indent, ticks, language = fence.groups()
            body: list[str] = []
            start = number + 1
            number += 1
            while number < len(lines) and not lines[number].strip().startswith(ticks):
                body.append(lines[number][len(indent) :] if lines[number].startswith(indent) else lines[number])
                number += 1
            if marked is not None:
                if language not in SHELLS | {"python"}:
                    raise AssertionError(f"{path}:{start}: a runnable block must be bash or python, not {language!r}")
                blocks.append(Block(path, start, language, "\n".join(body) + "\n", marked))
            marked = None
            number += 1
            continue
        if line.strip():
            marked = None  # the marker belongs to the very next block only
        number += 1
    return blocks


DOCUMENT_BLOCKS: Final = [(path, runnable_blocks(path)) for path in DOCUMENTS if path.is_file()]


def run_block(block: Block, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "INVARIANCE_USER_DIR": str(folder / ".user"),
        "INVARIANCE_RUNS": str(folder / ".runs"),
        "INVARIANCE_THREADS": "1",
        "MPLBACKEND": "Agg",
        "QT_QPA_PLATFORM": "offscreen",
    }
    if block.language == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-c", "set -euo pipefail\n" + block.code]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)


def test_some_blocks_are_marked_runnable() -> None:
    assert any(blocks for _, blocks in DOCUMENT_BLOCKS), "no <!-- runnable --> block in README.md or docs/"


def document_params() -> list[object]:
    """Per document: its quick blocks (by default), and every block, quick and slow, in order (``-m slow``)."""
    params: list[object] = []
    for path, blocks in DOCUMENT_BLOCKS:
        name = str(path.relative_to(ROOT))
        quick = [block for block in blocks if not block.slow]
        if quick:
            params.append(pytest.param(quick, id=name))
        if len(quick) < len(blocks):
            params.append(pytest.param(blocks, id=f"{name} (with slow blocks)", marks=pytest.mark.slow))
    return params


@pytest.mark.parametrize("blocks", document_params())
def test_the_runnable_blocks_of_a_document_run(blocks: list[Block], tmp_path: Path) -> None:
    for block in blocks:
        result = run_block(block, tmp_path)
        assert result.returncode == 0, (
            f"{block.where}: the {block.language} block exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )


def test_the_extractor_finds_marked_blocks_only(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- runnable -->\n```bash\necho one\n```\n\n```bash\necho unmarked\n```\n"
        "<!-- runnable slow -->\n\n```python\nprint('two')\n```\n<!-- runnable -->\ntext in between\n```sh\nno\n```\n",
        encoding="utf-8",
    )
    blocks = runnable_blocks(page)
    assert [(block.language, block.code, block.slow) for block in blocks] == [
        ("bash", "echo one\n", False),
        ("python", "print('two')\n", True),
    ]
