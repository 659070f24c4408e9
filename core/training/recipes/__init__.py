"""Training recipes of the zoo: ``RECIPES`` maps the recipe a zoo entry names to ``recipe(ctx, model) -> model``."""

from __future__ import annotations

from core.training.context import Recipe
from core.training.recipes.abs import train_abs
from core.training.recipes.adversarial import train_fgsm_rs, train_pgd, train_spatial, train_standard
from core.training.recipes.ibp import train_ibp

RECIPES: dict[str, Recipe] = {
    "standard": train_standard,
    "fgsm-rs": train_fgsm_rs,
    "pgd": train_pgd,
    "slide": train_pgd,
    "spatial": train_spatial,
    "ibp": train_ibp,
    "abs": train_abs,
}
