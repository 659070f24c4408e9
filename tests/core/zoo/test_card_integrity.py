"""Every card carries its weights' sha256, and the bytes checked are the bytes loaded (zoo and GenInv scorer)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.errors import ModelError
from core.geninv.scorer import load_scorer
from core.paths import checkpoints_dir
from core.zoo import cards, load

CHECKPOINTS = checkpoints_dir()


def test_every_shipped_card_records_a_sha256() -> None:
    for card in CHECKPOINTS.glob("*.json"):
        if card.name.endswith(".p_human.json"):  # GenInv's fitted p_human mapping: parameters, not a model card
            continue
        assert len(json.loads(card.read_text())["checkpoint_sha256"]) == 64, card.name


def _copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "checkpoints"
    folder.mkdir(exist_ok=True)
    for suffix in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder


def test_zoo_weights_are_read_once_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy(tmp_path, "undefended")
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(folder))

    original = cards.read_verified
    swapped_in = (CHECKPOINTS / "linf-pgd-0.3.safetensors").read_bytes()  # same architecture, other weights

    def swap_after_check(path: Path, sha256: str) -> bytes:
        data = original(path, sha256)
        path.write_bytes(swapped_in)  # the file changes between the check and the load
        return data

    monkeypatch.setattr(cards, "read_verified", swap_after_check)
    reference = load_file(str(CHECKPOINTS / "undefended.safetensors"))
    loaded = load("undefended", "cpu").state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in reference.items())  # the checked bytes
    monkeypatch.setattr(cards, "read_verified", original)
    weights = folder / "undefended.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelError, match="sha256 does not match"):
        load("undefended", "cpu")
    card = json.loads((folder / "undefended.json").read_text())
    del card["checkpoint_sha256"]
    (folder / "undefended.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="no checkpoint_sha256"):
        load("undefended", "cpu")


def test_the_geninv_scorer_refuses_a_card_without_sha256(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "geninv-scorer")
    card = json.loads((folder / "geninv-scorer.json").read_text())
    del card["checkpoint_sha256"]
    (folder / "geninv-scorer.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="no sha256 recorded"):
        load_scorer("cpu", folder)
    card["checkpoint_sha256"] = "0" * 64
    (folder / "geninv-scorer.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="sha256 does not match"):
        load_scorer("cpu", folder)
