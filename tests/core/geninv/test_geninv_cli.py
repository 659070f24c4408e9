"""``invariance geninv`` end to end on a 300-digit pool, the scorer's files, and the GenInv benchmark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.errors import ModelError
from core.geninv import bank as bank_module
from core.geninv import scorer as scorer_module
from core.geninv.scorer import load_scorer, read_card, scorer_paths
from tests.fixtures_geninv import POOL


@pytest.fixture
def tiny_checkpoints(scorer_dir: Path, judge_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import shutil

    from core.geninv.judge import clear_judge_cache, judge_paths

    for source in judge_paths(judge_dir):
        shutil.copy(source, scorer_dir / source.name)
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(scorer_dir))
    scorer_module.clear_cache()
    bank_module.clear_banks()
    clear_judge_cache()
    yield scorer_dir
    scorer_module.clear_cache()
    bank_module.clear_banks()
    clear_judge_cache()


def test_cli_writes_npz_and_json(tiny_checkpoints: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs" / "l0.npz"
    code = main(["geninv", "--norm", "l0", "--indices", "3,0,7", "--out", str(out), "--json", "--device", "cpu",
                 "--pool-size", str(POOL)])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    found = [e["index"] for e in summary["examples"]]
    assert found and sorted(found + summary["no_suggestion_within_budget"]) == [0, 3, 7]
    assert summary["digits"] == 3 and summary["suggestions"] == len(found)
    assert summary["seconds_per_example"] > 0
    count = len(found)
    with np.load(out, allow_pickle=False) as data:
        assert data["images"].shape == (count, 28, 28) and data["images"].dtype == np.uint8
        assert data["originals"].dtype == np.uint8
        assert data["source_indices"].tolist() == found
        assert str(data["label_kind"]) == "original"
        assert np.all(data["intended_labels"] != data["labels"])
        extras = [json.loads(text) for text in data["extras"]]
        assert all(0 <= extra["p_human"] <= 1 for extra in extras)
        assert data["distance_norms"].tolist() == ["l0", "l1", "l2", "linf"]
        assert data["distances"].shape == (count, 4) and len(extras) == count
        changed = np.abs(data["images"].astype(int) - data["originals"].astype(int))
        assert [extra["l0_binary"] for extra in extras] == (changed > 127.5).sum(axis=(1, 2)).tolist()
        assert max(extra["train_index"] for extra in extras) < POOL
        assert set(data["norms"].tolist()) == {"l0"}
        targets = data["intended_labels"].tolist()
    assert [example["target_label"] for example in summary["examples"]] == targets


def test_cli_never_overwrites_an_existing_npz(
    tiny_checkpoints: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.npz"
    out.write_bytes(b"a file geninv did not write")
    code = main(["geninv", "--norm", "l0", "--indices", "3", "--out", str(out), "--device", "cpu",
                 "--pool-size", str(POOL)])  # fmt: skip
    assert code != 0
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"a file geninv did not write"


def test_cli_npz_imports_back(tiny_checkpoints: Path, tmp_path: Path) -> None:
    """geninv's npz is the export's layout: `invariance import` restores images, labels and metadata."""
    from core.collection import Collection

    out = tmp_path / "l0.npz"
    assert main(["geninv", "--norm", "l0", "--eps", "none", "--indices", "3,0,7,1", "--out", str(out),
                 "--device", "cpu", "--pool-size", str(POOL)]) == 0  # fmt: skip
    assert main(["import", str(out), "--out", str(tmp_path / "back")]) == 0
    with np.load(out, allow_pickle=False) as data:
        written = {key: data[key] for key in data.files}
    with Collection.open(tmp_path / "back", read_only=True) as collection:
        items = collection.items
    assert len(items) == len(written["images"]) > 0
    assert [item.id for item in items] == written["ids"].tolist()
    for position, item in enumerate(items):
        assert np.array_equal(item.image, written["images"][position])
        assert item.original is not None and np.array_equal(item.original, written["originals"][position])
        assert item.original_label == written["original_labels"][position] == written["labels"][position]
        assert item.intended_label == written["intended_labels"][position] != item.original_label
        assert (item.source_split, item.source_index) == ("test", written["source_indices"][position])
        assert (item.norm, item.eps) == ("l0", written["eps"][position]) and item.eps == item.distances["l0"]
        # no budget (--eps none): recorded as such, with the suggestion's own l0 distance as eps
        assert (item.method, item.set_name, item.extra["budget"]) == ("geninv-l0", "geninv/l0/none", "none")
        assert item.extra == json.loads(str(written["extras"][position]))
        assert {"train_index", "p_human", "raw_score", "convincing", "transform", "l0_binary"} <= set(item.extra)


def test_cli_linf_random_respects_budget(tiny_checkpoints: Path, tmp_path: Path) -> None:
    out = tmp_path / "linf.npz"
    code = main(["geninv", "--norm", "linf", "--eps", "0.3", "--random", "2", "--seed", "4", "--out", str(out),
                 "--device", "cpu", "--pool-size", str(POOL), "--targets", "1:7,4"])  # fmt: skip
    if code != 0:  # no suggestion within budget for either digit: an error, and nothing written
        assert not out.exists()
        return
    with np.load(out, allow_pickle=False) as data:
        diff = np.abs(data["images"].astype(int) - data["originals"].astype(int)).max()
        assert diff <= 76  # 0.3 * 255 = 76.5
        assert data["distances"][:, data["distance_norms"].tolist().index("linf")].max() <= 0.3 + 1e-6


def test_cli_writes_a_collection_and_appends_to_it(tiny_checkpoints: Path, tmp_path: Path) -> None:
    from core.collection import Collection

    out = tmp_path / "suggestions"
    for indices in ("3,0,1,2", "7,4,5,6"):
        assert main(["geninv", "--norm", "l0", "--indices", indices, "--out", str(out), "--device", "cpu",
                     "--pool-size", str(POOL)]) == 0  # fmt: skip
    with Collection.open(out, read_only=True) as collection:
        items = collection.items
        assert items and {item.source_index for item in items} <= set(range(8))
        assert {item.method for item in items} == {"geninv-l0"}
        for item in items:
            assert item.intended_label != item.original_label and 0 <= item.extra["p_human"] <= 1
            # no --eps: the paper's budget of 25 pixels, recorded, and every item within it after rounding
            assert (item.eps, item.set_name, item.extra["budget"]) == (25.0, "geninv/l0/eps25", 25.0)
            assert item.distances["l0"] <= 25 and item.extra["train_index"] < POOL


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["geninv", "--norm", "l0", "--indices", "10000", "--out", "x.npz"], "outside"),
        (["geninv", "--norm", "l0", "--indices", "a,b", "--out", "x.npz"], "comma-separated"),
        (["geninv", "--norm", "linf", "--indices", "1", "--out", "x.npz"], "--eps"),
        (["geninv", "--norm", "l0", "--indices", "1"], "--out"),
        (["geninv", "--norm", "l0", "--out", "x.npz"], "--indices or --random"),
        (
            ["geninv", "--norm", "linf", "--eps", "0.3", "--indices", "1", "--out", "x.npz", "--targets", "1=7"],
            "targets",
        ),
    ],
)
def test_cli_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2  # bad usage
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_scorer_files_and_card(scorer_dir: Path) -> None:
    weights, card_path = scorer_paths(scorer_dir)
    assert weights.exists() and card_path.exists()
    card = read_card(scorer_dir)
    assert card["format_version"] == 1 and card["name"] == "geninv-scorer"
    assert {"command", "seed", "epochs", "seconds", "device"} <= set(card["training"])
    assert 0.0 <= card["evaluation"]["elbo_classifier_accuracy_first_1000_test"] <= 1.0
    scorer = load_scorer("cpu", folder=scorer_dir)
    assert scorer.train_elbo.shape == (1500,)
    assert np.isfinite(scorer.train_elbo).all()


def test_missing_scorer_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="--train-scorer"):
        load_scorer("cpu", folder=tmp_path)
    (tmp_path / "geninv-scorer.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot read"):
        load_scorer("cpu", folder=tmp_path)


def test_bench_reports_speed_and_quality(tiny_checkpoints: Path) -> None:
    from core.geninv.bench import bench_geninv, format_bench

    result = bench_geninv("l0", n=2, repeats=2, device="cpu", pool_size=POOL)
    assert len(result.seconds_per_example) == 2 and result.median_seconds_per_example > 0
    assert result.no_suggestion <= 2
    if result.no_suggestion < 2:
        assert result.mean_l0_binary is not None and result.mean_l0 is not None
        assert result.mean_l0 >= result.mean_l0_binary
    text = format_bench(result)
    assert "median seconds per example" in text and "cores" in text and "no suggestion within budget" in text
