"""The documentation matches the code: generated tables regenerate exactly, links and named files exist, and the
README stays short. The blocks marked ``<!-- runnable -->`` are run by ``tests/docs/test_code_blocks.py``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from core.cli import main as invariance

REPOSITORY = Path(__file__).resolve().parent.parent
PAGES = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]

GENERATED = re.compile(
    r"<!-- generated: (?P<command>invariance [^\n]*?) -->\n(?P<body>.*?)\n<!-- end generated -->", re.S
)
LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#(?P<anchor>[^)]*))?\)")
NAMED_PATH = re.compile(r"`(?P<path>(?:core|editor|tests|checkpoints|docs|\.ci)/[^`\s]*)`")


def _page_name(page: Path) -> str:
    return str(page.relative_to(REPOSITORY))


def _blocks(pattern: re.Pattern[str]) -> list[tuple[str, re.Match[str]]]:
    return [(_page_name(page), match) for page in PAGES for match in pattern.finditer(page.read_text("utf-8"))]


def test_readme_is_short() -> None:
    lines = (REPOSITORY / "README.md").read_text("utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move the detail to a page under docs/"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (REPOSITORY / "README.md").read_text("utf-8")
    unlinked = [page.name for page in PAGES[1:] if f"(docs/{page.name})" not in readme]
    assert not unlinked, f"README.md links no docs page {unlinked}"


@pytest.mark.parametrize("page", PAGES, ids=_page_name)
def test_relative_links_resolve(page: Path) -> None:
    """Each relative link reaches a file, and a link to a heading of a page (``page.md#anchor``) reaches one."""
    broken = []
    for match in LINK.finditer(page.read_text("utf-8")):
        if "://" in match["target"]:
            continue
        target = page.parent / match["target"]
        if not target.exists():
            broken.append(match["target"])
        elif match["anchor"] and target.suffix == ".md" and match["anchor"] not in _anchors(target):
            broken.append(f"{match['target']}#{match['anchor']}")
    assert not broken, f"{_page_name(page)}: links to missing files or headings {broken}"


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text("utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=_page_name)
def test_named_files_exist(page: Path) -> None:
    """Every repository path a page names in backticks exists (a name without suffix, like
    ``checkpoints/geninv-judge``, stands for its files)."""
    named = sorted(
        {
            match["path"].split("::")[0].rstrip(".,:;")
            for match in NAMED_PATH.finditer(page.read_text("utf-8"))
            if not any(mark in match["path"] for mark in "<*…")
        }
    )
    missing = [path for path in named if not (REPOSITORY / path).exists() and not _stands_for_files(path)]
    assert not missing, f"{_page_name(page)} names files that are not there: {missing}"


def _stands_for_files(path: str) -> bool:
    location = REPOSITORY / path
    return location.parent.is_dir() and any(location.parent.glob(location.name + ".*"))


def test_the_docs_have_generated_tables() -> None:
    commands = {match["command"].split(" --")[0] for _, match in _blocks(GENERATED)}
    assert {"invariance zoo", "invariance scorecard"} <= commands


@pytest.mark.parametrize(
    ("page", "command", "body"),
    [(page, match["command"], match["body"]) for page, match in _blocks(GENERATED)],
    ids=lambda value: value if isinstance(value, str) and value.startswith("invariance") else "",
)
def test_generated_table_matches_its_command(
    page: str, command: str, body: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = shlex.split(command)[1:]
    monkeypatch.chdir(REPOSITORY)
    capsys.readouterr()
    assert invariance(argv) == 0
    regenerated = capsys.readouterr().out.strip()
    assert regenerated == body.strip(), f"{page} is out of date: replace its table with the output of `{command}`"
