"""Fuzzing ``study ingest`` (answers files, plan files) and ``evaluate`` (rater ledgers, options): every run either
succeeds or prints one ``invariance: error:`` line with exit code 1 and changes no file. Never a traceback or exit 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.data import load_mnist
from core.study.pack import pack_plan
from tests.fixtures_collection import json_values, mutate
from tests.fixtures_study import make_collection

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LABELS = load_mnist("test")[1]

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**62, max_value=2**80),
    st.floats(),
    st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "9" * 5000, "-0", "1" * 4301]),
)
"""Numbers as JSON text, including ones Python's json module turns into inf/nan or refuses."""


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != ".lock"}  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A collection of two items, its pack, and one valid pack answers document."""
    root = tmp_path_factory.mktemp("study-fuzz")
    coll = root / "coll"
    make_collection(coll, [10, 11])
    assert main(["study", "pack", str(coll), "--out", str(root / "pack")]) == 0
    plan = pack_plan(root / "pack", [coll])
    trials = [
        {"order": k, "answer": int(LABELS[ref.clean_index]) if ref.is_clean else 8, "response_ms": 300}
        for k, ref in enumerate(plan.trials)
    ]
    answers = {"format_version": 2, "kind": "invariance-lab.answers", "pack_id": plan.pack_id, "rater": "ada",
               "source": "pack", "started": "", "finished": "", "trials": trials}  # fmt: skip
    return coll, answers


def run_and_check(args: list[str], folder: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """Run the CLI; on failure insist on one error line and an untouched ``folder``."""
    before = files(folder)
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err
    assert code in (0, 1), (code, err)
    if code == 1:
        assert err.startswith("invariance: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
        assert files(folder) == before
    return code


def substitute_numbers(text: str, number: str) -> str:
    """The JSON text with every ``300`` (the response times) replaced by ``number`` verbatim."""
    return text.replace(": 300", f": {number}")


@FUZZ
@given(
    path=st.lists(st.integers(0, 40), max_size=4),
    value=json_values,
    number=numbers,
    raw=st.one_of(st.none(), st.binary(max_size=64)),
    plan_change=st.one_of(st.none(), st.tuples(st.lists(st.integers(0, 40), min_size=1, max_size=4), json_values)),
)
def test_ingest_of_mutated_answers_and_plans(
    study: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: list[int],
    value: Any,
    number: Any,
    raw: bytes | None,
    plan_change: tuple[list[int], Any] | None,
) -> None:
    coll, answers = study
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(coll, work / "coll", ignore=shutil.ignore_patterns(".lock"))
    if plan_change is not None:  # the organiser's plan file damaged instead
        (plan_file,) = (work / "coll" / "study-plans").iterdir()
        plan_file.write_text(json.dumps(mutate(json.loads(plan_file.read_text()), *plan_change)))
    document = mutate(answers, path, value) if path else answers
    text = substitute_numbers(json.dumps(document), str(number) if not isinstance(number, str) else number)
    payload = raw if raw is not None else text.encode("utf-8", "surrogatepass")
    answers_path = tmp_path / "answers.json"
    answers_path.write_bytes(payload)
    run_and_check(["study", "ingest", str(answers_path), "--collection", str(work / "coll")], work, capsys)


@FUZZ
@given(
    ledger=st.one_of(json_values, st.just("nested"), st.just("raw")),
    path=st.lists(st.integers(0, 10), max_size=4),
    threshold=st.one_of(st.none(), st.floats(), st.sampled_from(["1e400", "nan", "-0"])),
    accuracy=st.one_of(st.none(), st.floats(), st.sampled_from(["1e400", "nan", "inf"])),
)
def test_evaluate_with_fuzzed_ledgers_and_options(
    study: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ledger: Any,
    path: list[int],
    threshold: Any,
    accuracy: Any,
) -> None:
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "no-models"))
    coll, _ = study
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(coll, work / "coll", ignore=shutil.ignore_patterns(".lock"))
    valid = {"format_version": 1, "kind": "invariance-lab.study-raters", "threshold": 0.7,
             "raters": {"ada": {"pack:0123456789abcdef": {"n_clean": 2, "n_correct": 2}}}}  # fmt: skip
    target = work / "coll" / "study-raters.json"
    if ledger == "nested":
        target.write_text("{" + '"a":[' * 50_000 + "]" * 50_000 + "}")
    elif ledger == "raw":
        target.write_bytes(b"\xff\xfe{")
    else:
        target.write_text(json.dumps(mutate(valid, path, ledger) if path else valid))
    args = ["evaluate", str(work / "coll"), "--models", "", "--json"]
    if threshold is not None:
        args.append(f"--threshold={threshold}")
    if accuracy is not None:
        args.append(f"--min-rater-accuracy={accuracy}")
    run_and_check(args, work, capsys)
