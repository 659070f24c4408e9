"""GenInv's rules on a 300-digit pool with a tiny judge: budgets after uint8 rounding, target != source,
no zero-change suggestion, weak suggestions (no target reached) still offered with a low p_human, ℓ0 ε validation,
p_human in [0, 1],
same seed -> same output, and the CLI's fail-fast collection and one-line ε error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.budget import within_budget
from core.cli import main
from core.errors import BudgetError
from core.geninv import SearchSettings, suggest, suggest_batch
from core.geninv.calibration import PHumanMapping
from core.geninv.pairs import pair_prior, ranking_score
from tests.fixtures_geninv import FixedJudge

FAST = SearchSettings(pool=16, steps=10, refine=6)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from core.data import load_mnist
    from core.images import to_float

    images, labels = load_mnist("test")
    return to_float(images[:8]), labels[:8].copy()


@pytest.mark.parametrize(("norm", "eps"), [("l0", None), ("l0", 12.0), ("linf", 0.3), ("linf", 0.4)])
def test_every_suggestion_obeys_the_rules(norm, eps, digits, pool_bank, tiny_judge) -> None:
    images, labels = digits
    results = suggest_batch(images, labels, norm, eps, k=3, bank=pool_bank, judge=tiny_judge, settings=FAST)
    assert len(results) == len(labels)
    found = [s for suggestions in results for s in suggestions]
    assert found, "the tiny judge should accept at least one suggestion out of 8 digits"
    for image, label, suggestions in zip(images, labels, results, strict=True):
        snapped = np.rint(image * 255.0) / 255.0
        for s in suggestions:
            assert s.label == label and s.target_label != label
            u8 = s.image_u8()
            assert np.any(u8 != np.rint(image * 255.0).astype(np.uint8)), "a suggestion must change something"
            assert np.allclose(u8 / 255.0, s.image, atol=1e-6)
            if eps is not None:  # the stored uint8 image, not a float before rounding, is within budget
                assert within_budget(snapped, u8 / 255.0, norm, eps)
            assert 0.0 <= s.p_human <= 1.0 and np.isfinite(s.raw_score)
            assert s.convincing == (s.p_human >= 0.5)
            probs = tiny_judge.probs(torch.from_numpy(u8[None] / 255.0).float())[0]
            if s.extras["target_reached"]:
                assert int(probs.argmax()) == s.target_label, "the judge's top class must be the target"
            else:  # weak: offered only when no candidate for this digit reaches its target
                assert int(probs.argmax()) != s.target_label
                assert not any(other.extras["target_reached"] for other in suggestions)
        ranked = [ranking_score(s.raw_score, s.norm, s.label, s.target_label) for s in suggestions]
        assert ranked == sorted(ranked, reverse=True), "best first: raw score plus the pair prior"
        assert all(s.extras["pair_prior"] == pair_prior(norm, s.label, s.target_label) for s in suggestions)


def test_same_seed_same_output(digits, pool_bank, tiny_judge) -> None:
    images, labels = digits
    config = SearchSettings(pool=12, steps=8, starts=2, refine=4)
    runs = [
        suggest_batch(
            images[:3], labels[:3], "l0", None, k=2, seed=7, bank=pool_bank, judge=tiny_judge, settings=config
        )
        for _ in range(2)
    ]
    for first, second in zip(*runs, strict=True):
        assert len(first) == len(second)
        for a, b in zip(first, second, strict=True):
            assert np.array_equal(a.image, b.image) and a.target_label == b.target_label
            assert a.p_human == b.p_human and a.raw_score == b.raw_score


def test_unreachable_target_is_still_offered_as_weak(digits, pool_bank) -> None:
    images, labels = digits
    judge = FixedJudge(int(labels[0]))  # always sees the source digit: no target is ever reached
    for norm, eps in (("l0", None), ("l0", 5.0), ("linf", 0.3)):
        found = suggest(images[0], int(labels[0]), norm, eps, k=3, bank=pool_bank, judge=judge, settings=FAST)
        assert found and all(s.extras["target_reached"] == 0.0 for s in found)
        assert all(s.p_human < 0.2 and not s.convincing for s in found)


@pytest.mark.parametrize("eps", [0.3, 0.0, 2.5, -1.0, float("nan"), float("inf")])
def test_l0_eps_must_be_whole_pixels(eps, digits, pool_bank, tiny_judge) -> None:
    images, labels = digits
    with pytest.raises(BudgetError, match="whole number of pixels"):
        suggest(images[0], int(labels[0]), "l0", eps, bank=pool_bank, judge=tiny_judge)


def test_p_human_mapping_is_monotone_and_bounded() -> None:
    mapping = PHumanMapping()
    values = mapping(np.linspace(-50, 50, 101))
    assert np.all((values >= 0) & (values <= 1)) and np.all(np.diff(values) >= 0)


@pytest.mark.parametrize("eps", ["0.3", "0", "2.5"])
def test_cli_l0_fractional_eps_is_one_line_and_writes_nothing(eps, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "coll"
    npz = tmp_path / "out.npz"
    for target in (out, npz):
        code = main(["geninv", "--norm", "l0", "--eps", eps, "--indices", "1", "--out", str(target)])
        error = capsys.readouterr().err.strip()
        assert code != 0 and error.startswith("invariance: error:") and "whole number" in error
        assert len(error.splitlines()) == 1
        assert not target.exists()


def test_cli_opens_a_locked_collection_before_searching(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from core.collection import Collection
    from core.geninv import run as runner

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the search ran before the collection was opened")

    monkeypatch.setattr(runner, "run_digits", fail)
    path = tmp_path / "busy"
    holder = Collection.create(path, "busy")
    try:
        code = main(["geninv", "--norm", "l0", "--indices", "1", "--out", str(path)])
    finally:
        holder.close()
    assert code != 0 and "already open" in capsys.readouterr().err
    (tmp_path / "not-a-collection").mkdir()
    (tmp_path / "not-a-collection" / "stray.txt").write_text("x")
    assert main(["geninv", "--norm", "l0", "--indices", "1", "--out", str(tmp_path / "not-a-collection")]) != 0
    assert (tmp_path / "not-a-collection" / "stray.txt").read_text() == "x"


def test_the_judges_pooling_is_max_pool2d_exactly() -> None:
    from core.geninv.judge import _max_pool_2x2

    for shape in ((5, 16, 28, 28), (3, 32, 14, 14)):
        h = torch.relu(torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape))))
        h[0, 0, :2, :2] = 0.25  # ties inside a window
        assert torch.equal(_max_pool_2x2(h), torch.nn.functional.max_pool2d(h, 2))


def test_the_judge_scores_the_blurred_view() -> None:
    import dataclasses

    from core.geninv.judge import VIEW_BLUR_SIGMA, Judge, JudgeNet, view_blur

    torch.manual_seed(3)
    judge = Judge((JudgeNet().eval(),), torch.device("cpu"), "")
    plain = dataclasses.replace(judge, view_sigma=0.0)
    images = torch.zeros(4, 28, 28)
    images[:, 8:20, 13:15] = 1.0  # a stroke
    images[1, 3, 3] = 1.0  # a lone pixel
    images[2, 13, 13:15] = 0.0  # a one-pixel gap in the stroke
    blurred = view_blur(images)
    assert VIEW_BLUR_SIGMA > 0 and torch.equal(view_blur(images, 0.0), images)
    assert torch.allclose(blurred.sum((1, 2)), images.sum((1, 2)), rtol=1e-4)  # no ink lost away from the border
    assert blurred[1, 3, 3] < 0.2  # a lone pixel fades
    assert blurred[2, 13, 13] > 0.5 * blurred[0, 13, 13]  # a gap keeps more than half the stroke's ink
    assert torch.allclose(judge.probs(images), plain.probs(blurred), atol=1e-6)
    taps = torch.exp(-(torch.arange(-3.0, 4.0) ** 2) / (2 * VIEW_BLUR_SIGMA**2))
    taps = taps / taps.sum()
    kernel = (taps[:, None] * taps[None, :])[None, None]
    by_convolution = torch.nn.functional.conv2d(images.unsqueeze(1), kernel, padding=3)
    assert torch.allclose(blurred, by_convolution.squeeze(1), atol=1e-6)
    assert not torch.allclose(judge.probs(images), plain.probs(images), atol=1e-4)
