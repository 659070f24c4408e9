"""The pair prior orders one digit's ℓ0 suggestions; the search itself does not depend on it or on k."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.geninv import SearchSettings, suggest_batch
from core.geninv.api import Suggestion, _rank
from core.geninv.pairs import PAIR_PRIOR_NATS, pair_prior, ranking_score
from core.geninv.transforms import TransformParams

FAST = SearchSettings(pool=16, steps=10, refine=6)


def _suggestion(norm: str, source: int, target: int, raw: float, changed: float = 20.0) -> Suggestion:
    return Suggestion(
        image=np.zeros((28, 28), np.float32), label=source, target_label=target, train_index=0,
        transform=TransformParams.from_row(np.zeros(6)), distortion={"l0_binary": changed}, score=raw,
        seconds=0.0, norm=norm, eps=30.0, convincing=False, aligned_cost=0.0, p_human=0.5, raw_score=raw,
    )  # fmt: skip


def test_the_prior_is_a_table_of_every_pair_with_nothing_on_the_diagonal() -> None:
    assert len(PAIR_PRIOR_NATS) == 10 and all(len(row) == 10 for row in PAIR_PRIOR_NATS)
    assert all(PAIR_PRIOR_NATS[d][d] == 0.0 for d in range(10))
    assert all(np.isfinite(v) and abs(v) < 5 for row in PAIR_PRIOR_NATS for v in row)


def test_an_l0_nine_is_offered_as_a_four_before_a_seven_the_judge_likes_more() -> None:
    # people saw 9 -> 7 far less often than its raw score says, and 9 -> 4 more (docs/evidence/geninv-pair-prior)
    assert pair_prior("l0", 9, 4) > pair_prior("l0", 9, 7) + 1.0
    seven, four = _suggestion("l0", 9, 7, raw=3.0), _suggestion("l0", 9, 4, raw=2.0)
    assert _rank([seven, four]) == [four, seven]
    far_better_seven = _suggestion("l0", 9, 7, raw=8.0)
    assert _rank([four, far_better_seven]) == [far_better_seven, four]


def test_linf_suggestions_stay_ordered_by_raw_score_then_fewer_pixels() -> None:
    assert pair_prior("linf", 9, 4) == 0.0 and ranking_score(1.5, "linf", 9, 7) == 1.5
    seven, four = _suggestion("linf", 9, 7, raw=3.0), _suggestion("linf", 9, 4, raw=2.0)
    assert _rank([four, seven]) == [seven, four]
    few, many = _suggestion("linf", 9, 4, raw=2.0, changed=5), _suggestion("linf", 9, 4, raw=2.0, changed=9)
    assert _rank([many, few]) == [few, many]


@pytest.mark.parametrize("eps", [12.0, None])
def test_the_first_suggestions_do_not_depend_on_how_many_are_asked_for(eps, pool_bank, tiny_judge) -> None:
    # every candidate is ranked before the decision to search again: asking for one must not change which one
    from core.data import load_mnist
    from core.images import to_float

    images, labels = load_mnist("test")
    queries, sources = to_float(images[:8]), labels[:8]
    one = suggest_batch(queries, sources, "l0", eps, k=1, bank=pool_bank, judge=tiny_judge, settings=FAST)
    three = suggest_batch(queries, sources, "l0", eps, k=3, bank=pool_bank, judge=tiny_judge, settings=FAST)
    assert any(one)
    for first, more in zip(one, three, strict=True):
        assert len(first) == min(1, len(more))
        for a, b in zip(first, more, strict=False):
            assert np.array_equal(a.image, b.image) and a.target_label == b.target_label


def test_one_image_scored_for_several_targets_gives_each_targets_margin(tiny_judge) -> None:
    # the greedy scores the query once for every neighbour's target: the numbers of scoring copies of it, up to the
    # float rounding a batch of one and a batch of five may differ in
    from core.data import load_mnist
    from core.images import to_float

    images, _ = load_mnist("test")
    query = torch.from_numpy(to_float(images[:1]))
    targets = torch.tensor([3, 5, 8, 0, 3])
    once = tiny_judge.margins(query, targets)
    copies = tiny_judge.margins(query.expand(5, -1, -1), targets)
    assert once.shape == (5,) and torch.allclose(once, copies, rtol=0, atol=1e-5)
    assert once[0] == once[4] and len(set(once.tolist())) == 4
