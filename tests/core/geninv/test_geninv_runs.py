"""``invariance geninv --out COLL`` keeps what it finished: Ctrl-C / SIGTERM / kill -9 mid-run, resuming without
duplicates, --force-new, the same output for any --workers, and every model's prediction in the items and exports.

Runs on the tiny scorer and judge of tests/fixtures_geninv.py (copied into a checkpoints folder together with the
shipped ``undefended`` model, so that items carry one prediction), with a 300-digit candidate pool.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.collection import Collection
from core.paths import checkpoints_dir
from tests.fixtures_geninv import POOL

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ",".join(str(i) for i in range(40))
"""40 test digits = 5 chunks of 8: long enough to interrupt after the first chunk."""


@pytest.fixture(scope="module")
def checkpoints(scorer_dir: Path, judge_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.geninv.judge import judge_paths
    from core.geninv.scorer import scorer_paths

    folder = tmp_path_factory.mktemp("geninv-run-checkpoints")
    for source in (*judge_paths(judge_dir), *scorer_paths(scorer_dir)):
        shutil.copy(source, folder / source.name)
    for suffix in (".json", ".safetensors"):
        shutil.copy(checkpoints_dir() / f"undefended{suffix}", folder / f"undefended{suffix}")
    return folder


@pytest.fixture
def environment(checkpoints: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from core.geninv import bank, judge, scorer

    env = {"INVARIANCE_CHECKPOINTS": str(checkpoints), "INVARIANCE_USER_DIR": str(tmp_path / "user")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    scorer.clear_cache()
    bank.clear_banks()
    judge.clear_judge_cache()
    yield {**os.environ, **env, "PYTHONPATH": str(ROOT), "INVARIANCE_THREADS": "1"}
    scorer.clear_cache()
    bank.clear_banks()
    judge.clear_judge_cache()


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "core.cli", "geninv", "--norm", "l0", "--eps", "20", "--indices", DIGITS,
            "--out", str(out), "--device", "cpu", "--pool-size", str(POOL), *extra]  # fmt: skip


def _start_and_stop(out: Path, env: dict[str, str], how: signal.Signals) -> subprocess.CompletedProcess[str]:
    """Start geninv, wait until its first chunk is in the collection's journal, then send ``how``."""
    process = subprocess.Popen(
        _command(out), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and journal.stat().st_size > 0:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted: " + process.stderr.read()[-500:]
    process.send_signal(how)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _sources(out: Path) -> list[int]:
    with Collection.open(out, read_only=True) as collection:
        return [int(item.source_index) for item in collection.items if item.source_index is not None]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_keeps_finished_items_and_rerun_completes(
    how: signal.Signals, code: int, environment: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "coll"
    stopped = _start_and_stop(out, environment, how)
    assert stopped.returncode == code, stopped.stderr[-2000:]
    line = [row for row in stopped.stderr.splitlines() if row.startswith("interrupted:")]
    assert line and line[0].endswith("; run the same command again to resume"), stopped.stderr[-2000:]
    kept = _sources(out)
    assert kept and len(kept) < 40 and len(set(kept)) == len(kept)
    assert line[0].startswith(f"interrupted: {len(kept)} of 40 kept")
    again = subprocess.run(_command(out), env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"skipped {len(kept)} of 40 digits" in again.stderr
    final = _sources(out)
    assert len(final) == len(set(final)) and set(kept) <= set(final) and len(final) > len(kept)


@pytest.mark.slow
def test_kill_9_leaves_a_consistent_collection(environment: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "coll"
    killed = _start_and_stop(out, environment, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    kept = _sources(out)  # opening replays the journal; a torn last line is ignored
    assert len(kept) == len(set(kept))
    with Collection.open(out) as collection:  # writable open: recovers and compacts without error
        for item in collection.items:
            assert item.extra["geninv_run"] and item.distances["l0"] <= 20
    again = subprocess.run(_command(out), env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    final = _sources(out)
    assert len(final) == len(set(final)) and set(kept) <= set(final)


def test_rerun_skips_and_force_new_adds(environment: dict[str, str], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "coll"
    argv = ["geninv", "--norm", "l0", "--indices", "3,0,7", "--out", str(out), "--device", "cpu",
            "--pool-size", str(POOL)]  # fmt: skip
    assert main(argv) == 0
    first = _sources(out)
    capsys.readouterr()
    assert main(argv) == 0
    assert "skipped 3 of 3 digits" in capsys.readouterr().err and _sources(out) == first
    assert main([*argv, "--seed", "1"]) == 0  # another seed is another run: new items
    assert len(_sources(out)) == 2 * len(first)
    assert main([*argv, "--force-new"]) == 0
    assert len(_sources(out)) == 3 * len(first)


def test_items_and_exports_carry_predictions(environment: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "coll"
    assert main(["geninv", "--norm", "linf", "--eps", "0.3", "--indices", "1,2", "--out", str(out),
                 "--device", "cpu", "--pool-size", str(POOL)]) == 0  # fmt: skip
    with Collection.open(out, read_only=True) as collection:
        items = collection.items
    assert items and all(set(item.predictions) == {"undefended"} for item in items)
    assert main(["export", str(out), "--format", "csv", "--out", str(tmp_path / "table")]) == 0
    rows = list(csv.DictReader((tmp_path / "table" / "items.csv").open()))
    assert [int(row["pred_undefended"]) for row in rows] == [item.predictions["undefended"] for item in items]


@pytest.mark.slow
def test_same_seed_same_output_for_any_workers(environment: dict[str, str], tmp_path: Path) -> None:
    runs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.npz"
        argv = ["geninv", "--norm", "l0", "--indices", "5,9,1,12,3,20,8,11,2,30", "--seed", "3", "--out", str(out),
                "--device", "cpu", "--pool-size", str(POOL), "--workers", workers]  # fmt: skip
        assert main(argv) == 0
        with np.load(out, allow_pickle=False) as data:
            runs.append({key: data[key] for key in ("images", "source_indices", "intended_labels", "extras")})
    first, second = runs
    assert np.array_equal(first["images"], second["images"])
    assert first["source_indices"].tolist() == second["source_indices"].tolist()
    assert first["intended_labels"].tolist() == second["intended_labels"].tolist()
    p_human = [[json.loads(text)["p_human"] for text in run["extras"]] for run in runs]
    assert p_human[0] == p_human[1]
