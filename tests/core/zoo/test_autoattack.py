"""The reference AutoAttack (pyautoattack) through core.zoo.autoattack: sharded, resumable, checked, recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core import attacks
from core.certify import certified
from core.cli import main
from core.errors import ModelError
from core.sharding import ChunksInterrupted
from core.zoo import autoattack, scorecard
from tests.fixtures_user_models import export_onnx, mnist_test_digits, tiny_classifier

REPOSITORY = Path(__file__).parents[3]
CPU = torch.device("cpu")


@pytest.fixture()
def tiny_user_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tiny logistic regression as a user model (no threat model), in a temporary user folder."""
    monkeypatch.setenv("INVARIANCE_USER_DIR", str(tmp_path / "user"))
    onnx = export_onnx(tiny_classifier(), tmp_path / "tiny.onnx")
    assert main(["models", "add", "tiny", "--onnx", str(onnx), "--n", "200"]) == 0
    return "tiny"


def per_image(run: autoattack.AutoAttackRun) -> dict[str, np.ndarray]:
    assert run.pgd_robust is not None
    return {"robust": run.robust, "attack": run.attack, "pgd_robust": run.pgd_robust}


def test_workers_one_two_and_dask_local_give_identical_per_image_results(tmp_path: Path, tiny_user_model: str) -> None:
    spec = autoattack.EvalSpec(tiny_user_model, "linf", 0.3)
    runs = [
        autoattack.run_autoattack(
            spec, 12, workers=workers, dask=dask, chunk_size=4, store_root=tmp_path / f"store-{index}", progress=None
        )
        for index, (workers, dask) in enumerate([(1, None), (2, None), (2, "local")])
    ]
    first = per_image(runs[0])
    assert set(np.unique(first["attack"])) <= {1, 2} and not first["robust"].any()
    for run in runs[1:]:
        for name, array in per_image(run).items():
            np.testing.assert_array_equal(array, first[name])
    assert [run.reused for run in runs] == [0, 0, 0] and runs[0].chunks == 3


def test_a_resumed_run_reuses_its_chunks_and_gives_the_same_result(tmp_path: Path, tiny_user_model: str) -> None:
    spec = autoattack.EvalSpec(tiny_user_model, "l2", 2.5)
    whole = autoattack.run_autoattack(spec, 9, chunk_size=3, store_root=tmp_path, progress=None)
    store = autoattack.chunk_store(spec, chunk_size=3, root=tmp_path)
    assert store.done() == {0, 1, 2}
    (store.folder / "chunk-000001.npz").unlink()  # as if the run had stopped before its second chunk
    messages: list[str] = []
    resumed = autoattack.run_autoattack(
        spec, 9, chunk_size=3, store_root=tmp_path, progress=None, report=messages.append
    )
    assert resumed.reused == 2 and "reused 2 of 3 chunks" in messages[0]
    for name, array in per_image(whole).items():
        np.testing.assert_array_equal(per_image(resumed)[name], array)
    longer = autoattack.run_autoattack(spec, 12, chunk_size=3, store_root=tmp_path, progress=None)
    assert longer.reused == 3  # n is not part of the job: a longer run reuses the shorter one's chunks
    np.testing.assert_array_equal(longer.robust[:9], whole.robust)


@pytest.mark.slow
def test_autoattack_is_at_most_pgd_and_at_least_certified_where_known() -> None:
    """On a linear model IBP's certificate is tight, so AutoAttack must leave exactly the certified images."""
    model = tiny_classifier()
    x, y = mnist_test_digits(20)
    outcome = autoattack.reference_autoattack(model, x, y, norm="linf", eps=0.05, seed=0)
    pgd = attacks.pgd(model, x, y, norm="linf", eps=0.05, steps=100, restarts=5, early_stop=True)
    sure = certified(model, x, y, 0.05) & (model(x).argmax(1) == y)
    assert int(outcome.robust.sum()) <= int((~pgd.success).sum())
    assert bool((outcome.robust >= sure).all()) and 0 < int(sure.sum()) < 20


def test_autoattack_breaks_every_digit_of_the_undefended_model(tmp_path: Path) -> None:
    spec = autoattack.EvalSpec("undefended", "linf", 0.3)
    run = autoattack.run_autoattack(spec, 8, chunk_size=8, store_root=tmp_path, progress=None)
    assert run.value == 0.0 and run.pgd_value == 0.0 and run.warnings == []
    assert set(run.broken_by()) <= {"misclassified", "apgd-ce"}


def make_run(robust: list[bool], pgd: list[bool], certified_: list[bool] | None = None) -> autoattack.AutoAttackRun:
    n = len(robust)
    return autoattack.AutoAttackRun(
        model="m",
        norm="linf",
        eps=0.3,
        n=n,
        chunk_size=n,
        robust=np.array(robust),
        attack=np.where(robust, 0, 2).astype(np.uint8),
        pgd_robust=np.array(pgd),
        certified=None if certified_ is None else np.array(certified_),
        seconds=1.0,
        work_seconds=1.0,
        cpu_seconds=1.0,
        reused=0,
        chunks=1,
    )


def test_sanity_checks_fail_on_a_broken_certificate_and_warn_when_pgd_is_stronger() -> None:
    with pytest.raises(ModelError, match="broke 1 IBP-certified image"):
        autoattack.check(make_run([True, False], [True, False], [True, True]))
    one = make_run([True, True, False], [False, True, False])
    autoattack.check(one)
    assert one.warnings == []  # one image is noise
    two = make_run([True, True, False], [False, False, False])
    autoattack.check(two)
    assert len(two.warnings) == 1 and "left 2 images robust that our PGD" in two.warnings[0]


def test_per_image_file_is_small_and_reads_back(tmp_path: Path) -> None:
    generator = np.random.default_rng(0)
    run = make_run(list(generator.random(10_000) > 0.1), list(generator.random(10_000) > 0.12))
    path = autoattack.write_per_image(run, tmp_path)
    assert path.name == "m.autoattack-linf-0.3.npz" and path.stat().st_size < 12_000
    data = autoattack.read_per_image(path)
    np.testing.assert_array_equal(data["robust"], run.robust)
    np.testing.assert_array_equal(data["attack"], run.attack)
    assert list(data["attack_codes"]) == list(autoattack.ATTACK_CODES)


def test_an_old_torchattacks_record_is_shown_as_such_and_abs_has_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("undefended", "abs"):
        shutil.copy(REPOSITORY / "checkpoints" / f"{name}.json", tmp_path)
        shutil.copy(REPOSITORY / "checkpoints" / f"{name}.safetensors", tmp_path)
    card = json.loads((tmp_path / "undefended.json").read_text())
    card["evaluation"]["autoattack_linf_0.3"] = {
        "value": 0.0,
        "n": 1000,
        "attack": "AutoAttack standard (torchattacks 3.5.1: ...)",
        "command": "invariance zoo --autoattack undefended --n 1000",
    }
    (tmp_path / "undefended.json").write_text(json.dumps(card))
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path))
    rows = scorecard.scorecard([], device=CPU)
    by_name = {row.name: row for row in rows}
    assert by_name["undefended"].autoattack.label == "torchattacks, 10 steps"
    table = scorecard.markdown(rows, 1000)
    assert "0.0% (n=1000) [torchattacks, 10 steps]" in table
    assert "abs: no AutoAttack figure: ABS has no ℓp threat model" in table
    assert "AA*: torchattacks, 10 steps" in scorecard.text(rows)


@pytest.mark.parametrize(
    ("threat", "message"),
    [
        ("lx:0.3", "unknown norm 'lx'"),
        ("linf:-0.3", "must be a finite number > 0"),
        ("linf:nan", "must be a finite number > 0"),
        ("l2:two", "ε must be a number"),
        ("l0:5", "no AutoAttack for l0"),
    ],
)
def test_bad_threats_are_one_line_and_exit_2(threat: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scorecard", "undefended", "--threat", threat]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_a_user_model_without_threat_is_measured_at_linf_0_3_and_the_table_says_so(
    tiny_user_model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scorecard", tiny_user_model, "--n", "6", "--markdown", "--collections"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| `tiny`"))
    assert "linf ε=0.3 (default: no threat model)" in row
    assert main(["scorecard", tiny_user_model, "--n", "6", "--json", "--collections", "--threat", "l2:3"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    mine = next(row for row in rows if row["name"] == "tiny")
    assert (mine["norm"], mine["eps"], mine["threat_note"]) == ("l2", 3.0, "")
    assert mine["autoattack"]["label"] == autoattack.implementation() and mine["autoattack"]["n"] == 6
    assert mine["autoattack"]["value"] <= mine["pgd"]["value"]


def test_an_interrupted_run_says_what_it_kept_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.zoo import evaluation

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise ChunksInterrupted(3, 10)

    monkeypatch.setattr(evaluation, "evaluate_autoattack", interrupted)
    assert main(["zoo", "--autoattack", "linf-pgd-0.3", "--workers", "2"]) == 130
    assert "interrupted: 3 of 10 kept" in capsys.readouterr().err


def test_zoo_autoattack_refuses_abs_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "--autoattack", "abs"]) == 1
    assert "ABS has no ℓp threat model" in capsys.readouterr().err


def test_every_reference_record_on_a_shipped_card_matches_its_per_image_file() -> None:
    checkpoints = REPOSITORY / "checkpoints"
    for path in checkpoints.glob("*.json"):
        evaluation = json.loads(path.read_text()).get("evaluation", {})
        for key, record in evaluation.items():
            if not key.startswith("autoattack_") or not autoattack.is_reference(record):
                continue
            assert record["per_image"] == autoattack.per_image_name(path.stem, record["norm"], record["eps"])
            data = autoattack.read_per_image(checkpoints / record["per_image"])
            assert len(data["robust"]) == record["n"] == len(data["attack"]), path.name
            assert round(float(data["robust"].mean()), 4) == record["value"], path.name
            assert not (data["robust"] & (data["attack"] != 0)).any(), path.name


def test_a_zoo_run_writes_its_record_and_per_image_file_and_keeps_the_torchattacks_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.zoo.evaluation import evaluate_autoattack

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(REPOSITORY / "checkpoints" / f"undefended{suffix}", checkpoints)
    old = json.loads((checkpoints / "undefended.json").read_text())["evaluation"]["autoattack_linf_0.3"]
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(checkpoints))
    record = evaluate_autoattack("undefended", n=8, device="cpu", store_root=tmp_path / "chunks")
    card = json.loads((checkpoints / "undefended.json").read_text())["evaluation"]["autoattack_linf_0.3"]
    assert card == record and record["value"] == 0.0 and record["n"] == 8
    assert (record["implementation"], record["version"], record["n_iter"], record["seed"]) == (
        autoattack.implementation(),
        "standard",
        100,
        0,
    )
    assert record["previous"]["implementation"] == "torchattacks, 10 steps"
    assert record["previous"]["value"] == old["value"]
    data = autoattack.read_per_image(checkpoints / record["per_image"])
    assert record["per_image"] == "undefended.autoattack-linf-0.3.npz" and not data["robust"].any()
    again = evaluate_autoattack("undefended", n=8, device="cpu", store_root=tmp_path / "chunks")
    assert again["previous"] == record["previous"]  # a re-measurement keeps the torchattacks figure


@pytest.mark.slow
def test_ctrl_c_keeps_finished_chunks_exits_130_and_the_same_command_resumes(tmp_path: Path) -> None:
    """The real thing: ``zoo --autoattack`` on two worker processes, SIGINT to the process group (what Ctrl-C
    sends) once a chunk is stored, then the same command again. Cards and chunks live in temporary folders."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from core.data import cache_dir as mnist_cache

    checkpoints, cache = tmp_path / "checkpoints", tmp_path / "cache"
    checkpoints.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(REPOSITORY / "checkpoints" / f"undefended{suffix}", checkpoints)
    (cache / mnist_cache().name).mkdir(parents=True)
    for path in mnist_cache().glob("test-*.npy"):
        (cache / mnist_cache().name / path.name).symlink_to(path)
    env = dict(os.environ, INVARIANCE_CHECKPOINTS=str(checkpoints), INVARIANCE_DATA_DIR=str(cache))
    env["INVARIANCE_CHUNKS"] = str(cache / "eval-chunks")
    env["PYTHONPATH"] = str(REPOSITORY)
    command = [sys.executable, "-m", "core.cli", "zoo", "--autoattack", "undefended", "--n", "500", "--workers", "2"]

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            command,
            env=env,
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    before = (checkpoints / "undefended.json").read_bytes()
    first = start()
    deadline = time.monotonic() + 300
    while not list((cache / "eval-chunks").glob("*/chunk-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGINT)
    _, err = first.communicate(timeout=120)
    kept = len(list((cache / "eval-chunks").glob("*/chunk-*.npz")))
    assert first.returncode == 130, err
    assert f"interrupted: {kept} of 5 kept" in err and 1 <= kept < 5
    assert (checkpoints / "undefended.json").read_bytes() == before  # nothing written to the card
    second = start()
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert f"reused {kept} of 5 chunks" in err


def test_bench_eval_reports_medians_of_its_repeats(capsys: pytest.CaptureFixture[str]) -> None:
    command = "bench eval --model undefended --n 4 --chunk-size 2 --workers 1 --repeats 2 --json"
    assert main(command.split()) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["repeats"] == 2 and figures["threat"] == "linf:0.3"
    (row,) = figures["rows"]
    assert len(row["runs_seconds"]) == 2 and min(row["runs_seconds"]) <= row["seconds"] <= max(row["runs_seconds"])
    assert row["speedup"] == 1.0 and row["cores_obtained"] > 0
