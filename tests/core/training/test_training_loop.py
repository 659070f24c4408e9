"""The one training loop (``core.training.loop``) that the zoo recipes, GenInv's judge and its scorer share."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.training.loop import EpochResult, shuffled_batches, step_decay, train_epochs

Figures = dict[str, float]


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=generator)
    return x, (x[:, 0] > 0).long()


def test_shuffled_batches_cover_every_item_once_in_a_seeded_order() -> None:
    x, y = _data()
    batches = list(shuffled_batches(x, y, 16, torch.Generator().manual_seed(3), torch.device("cpu")))
    assert [len(labels) for _, labels in batches] == [16, 16, 16, 2]
    seen = torch.cat([inputs for inputs, _ in batches])
    assert sorted(seen[:, 0].tolist()) == sorted(x[:, 0].tolist())
    repeated = shuffled_batches(x, y, 16, torch.Generator().manual_seed(3), torch.device("cpu"))
    again = torch.cat([inputs for inputs, _ in repeated])
    assert torch.equal(seen, again) and not torch.equal(seen, x)


def test_train_epochs_sums_per_epoch_sets_the_lr_and_stops_when_asked() -> None:
    x, y = _data()
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    results: list[EpochResult] = []

    def step(
        inputs: torch.Tensor, labels: torch.Tensor, epoch: int, index: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        assert model.training
        logits = model(inputs)
        return F.cross_entropy(logits, labels), {"correct": float((logits.argmax(1) == labels).sum())}

    def after_epoch(result: EpochResult) -> bool:
        assert not model.training
        results.append(result)
        return result.epoch == 3

    last = train_epochs(
        model,
        optimizer,
        epochs=10,
        start_epoch=1,
        batches=lambda epoch: shuffled_batches(x, y, 20, torch.Generator().manual_seed(epoch), torch.device("cpu")),
        step=step,
        lr_at=lambda epoch: step_decay(0.5, epoch, 3),
        after_epoch=after_epoch,
    )
    assert [result.epoch for result in results] == [1, 2, 3] and last is results[-1]
    assert [result.lr for result in results] == pytest.approx([0.5, 0.5, 0.05])
    assert all(result.seen == 50 and result.steps == 3 for result in results)
    assert results[-1].mean("correct") > 0.8  # a separable problem is learnt
    assert results[-1].mean("loss") < results[0].mean("loss")


def test_a_run_resumed_after_its_last_epoch_trains_nothing() -> None:
    model = nn.Linear(4, 2)
    before = [parameter.detach().clone() for parameter in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _data()

    def step(
        inputs: torch.Tensor, labels: torch.Tensor, epoch: int, index: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        return F.cross_entropy(model(inputs), labels), {}

    assert train_epochs(model, optimizer, epochs=2, start_epoch=2, batches=lambda _: [(x, y)], step=step) is None
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
