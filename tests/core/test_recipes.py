"""The one recipe registry: every zoo entry's recipe is in it; an unknown recipe is one clear error; each recipe's
hyper-parameters are a typed dataclass, checked before training."""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from pathlib import Path

import pytest

import core.zoo.registry as zoo_registry
from core.errors import ModelError
from core.training.recipes import RECIPES
from core.training.run import recipe_for
from core.zoo.cards import card_path, read_card
from core.zoo.registry import ZOO


def test_every_zoo_entry_names_a_registered_recipe() -> None:
    for entry in ZOO.values():
        assert recipe_for(entry) is RECIPES[entry.recipe]
    assert {entry.recipe for entry in ZOO.values()} == set(RECIPES)


def test_an_unknown_recipe_is_refused_with_the_model_named() -> None:
    entry = dataclasses.replace(ZOO["undefended"], recipe="no-such-recipe")
    with pytest.raises(ModelError, match="'undefended' names unknown recipe 'no-such-recipe'"):
        recipe_for(entry)


# ---------------------------------------------------------------- typed hyper-parameters


def test_every_zoo_entry_reads_into_its_recipes_typed_hyperparameters_and_back() -> None:
    for entry in ZOO.values():
        recipe = recipe_for(entry)
        settings = recipe.settings(entry)
        assert isinstance(settings, recipe.hyperparameters)
        for key, value in entry.hyper.items():
            assert getattr(settings, key) == value, (entry.name, key)
        assert recipe.hyperparameters.parse(settings.to_json(), entry.name) == settings  # what a card records


def test_the_shipped_cards_recorded_hyperparameters_are_accepted() -> None:
    cards = [read_card(name) for name in ZOO if card_path(name).exists()]
    assert cards, "no shipped model cards found"
    for card in cards:
        recipe = RECIPES[card.recipe["name"]]
        recipe.hyperparameters.parse(card.recipe["hyperparameters"], f"card {card.name}")


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("l2-pgd-2.0", {"step": 7}, "model 'l2-pgd-2.0' (recipe 'pgd'): unknown hyper-parameter 'step'"),
        ("l2-pgd-2.0", {"epochs": "8"}, "hyper-parameter 'epochs' must be a whole number, not '8'"),
        ("l2-pgd-2.0", {"epochs": 8.0}, "hyper-parameter 'epochs' must be a whole number, not 8.0"),
        ("l2-pgd-2.0", {"lr": 0.0}, "hyper-parameter 'lr' must be > 0, not 0.0"),
        ("l2-pgd-2.0", {"lr": float("nan")}, "hyper-parameter 'lr' must be a finite number, not nan"),
        ("linf-pgd-0.3", {"ramp_start": 1.5}, "hyper-parameter 'ramp_start' must be >= 0 and <= 1, not 1.5"),
        ("linf-pgd-0.3", {"pgd_steps": True}, "hyper-parameter 'pgd_steps' must be a whole number, not True"),
        ("ibp-0.4", {"batchnorm": 1}, "hyper-parameter 'batchnorm' must be true or false, not 1"),
        ("abs", {"likelihood": "poisson"}, "hyper-parameter 'likelihood' must be 'gaussian' or 'bernoulli'"),
        ("abs", {"init_from": 3}, "hyper-parameter 'init_from' must be a string, not 3"),
    ],
)
def test_a_bad_hyperparameter_is_one_line_naming_the_model_and_the_key(
    name: str, change: dict[str, object], message: str
) -> None:
    entry = dataclasses.replace(ZOO[name], hyper={**ZOO[name].hyper, **change})
    with pytest.raises(ModelError) as caught:
        recipe_for(entry).settings(entry)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("name", "key"), [("l2-pgd-2.0", "steps"), ("ibp-0.4", "train_eps"), ("abs", "epochs")])
def test_a_missing_required_hyperparameter_is_named(name: str, key: str) -> None:
    hyper = {k: v for k, v in ZOO[name].hyper.items() if k != key}
    entry = dataclasses.replace(ZOO[name], hyper=hyper)
    with pytest.raises(ModelError, match=f"needs hyper-parameter '{key}'"):
        recipe_for(entry).settings(entry)


def test_training_with_a_bad_hyperparameter_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.training.run import train_model, training_log

    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    entry = ZOO["undefended"]
    monkeypatch.setitem(zoo_registry.ZOO, "undefended", dataclasses.replace(entry, hyper={**entry.hyper, "lr": -1}))
    with pytest.raises(ModelError, match="'lr' must be > 0"):
        train_model("undefended", train_subset=200, progress=False)
    assert not (tmp_path / "checkpoints").exists() and not training_log("undefended").exists()


def test_the_registry_table_builds_every_entry_by_keyword() -> None:
    source = Path(zoo_registry.__file__).read_text(encoding="utf-8")
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "ZooEntry"
    ]
    assert len(calls) == 1  # one call, fed by the declarative table
    assert all(not call.args and call.keywords for call in calls)
    table = tomllib.loads((Path(zoo_registry.__file__).parent / zoo_registry.TABLE_FILE).read_text(encoding="utf-8"))
    assert [row["name"] for row in table["model"]] == list(ZOO)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format_version = 2", "format_version must be 1"),
        ('format_version = 1\n[[model]]\nname = "a"\nfamily = 1', "model 'a': family has the wrong type"),
        ('format_version = 1\n[[model]]\nname = "a"\nfmaily = "x"', "model 'a': unknown key 'fmaily'"),
        ('format_version = 1\n[[model]]\nname = "a"\npreset = "x"', "model 'a': unknown preset 'x'"),
        ('format_version = 1\n[[model]]\nname = "a"', "model 'a': .*missing"),
        ("format_version = [", "not valid TOML"),
    ],
)
def test_a_bad_zoo_table_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ModelError, match=f"^zoo.toml: {message}"):
        zoo_registry.read_table(text)
