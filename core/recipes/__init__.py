"""Training recipes of the zoo; each module exposes ``RECIPES = {recipe name: function(ctx, model) -> model}``."""
