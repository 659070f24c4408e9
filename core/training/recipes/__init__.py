"""Training recipes of the zoo: ``RECIPES`` maps the recipe a zoo entry names to a :class:`Recipe`, the dataclass of
its typed hyper-parameters and ``train(ctx, model) -> model``."""

from __future__ import annotations

from core.training.context import Recipe
from core.training.recipes.abs import ABSHyperparameters, train_abs
from core.training.recipes.adversarial import (
    FgsmHyperparameters,
    PgdHyperparameters,
    SpatialHyperparameters,
    StandardHyperparameters,
    train_fgsm_rs,
    train_pgd,
    train_spatial,
    train_standard,
)
from core.training.recipes.ibp import IBPHyperparameters, train_ibp

RECIPES: dict[str, Recipe] = {
    "standard": Recipe(StandardHyperparameters, train_standard),
    "fgsm-rs": Recipe(FgsmHyperparameters, train_fgsm_rs),
    "pgd": Recipe(PgdHyperparameters, train_pgd),
    "slide": Recipe(PgdHyperparameters, train_pgd),
    "spatial": Recipe(SpatialHyperparameters, train_spatial),
    "ibp": Recipe(IBPHyperparameters, train_ibp),
    "abs": Recipe(ABSHyperparameters, train_abs),
}
