"""The one recipe registry: every zoo entry's recipe is in it; an unknown recipe is one clear error."""

from __future__ import annotations

import dataclasses

import pytest

from core.errors import ModelError
from core.training.recipes import RECIPES
from core.training.run import recipe_for
from core.zoo.registry import ZOO


def test_every_zoo_entry_names_a_registered_recipe() -> None:
    for entry in ZOO.values():
        assert recipe_for(entry) is RECIPES[entry.recipe]
    assert {entry.recipe for entry in ZOO.values()} == set(RECIPES)


def test_an_unknown_recipe_is_refused_with_the_model_named() -> None:
    entry = dataclasses.replace(ZOO["undefended"], recipe="no-such-recipe")
    with pytest.raises(ModelError, match="'undefended' names unknown recipe 'no-such-recipe'"):
        recipe_for(entry)
