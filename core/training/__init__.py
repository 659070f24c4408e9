"""Training the zoo.

- ``recipes/``: one function per way of training (``RECIPES``: standard, adversarial, IBP, ABS), each given a
  ``context`` (data, device, log, time budget, resumable state);
- ``run``: one model end to end (seeding, data, the recipe, the log, the model card);
- ``jobs``: several models as child processes, planned by their recorded times.

Nothing is re-exported here, so that the recipes can import ``core.training.context`` without pulling in the
driver, which imports the recipes.
"""
