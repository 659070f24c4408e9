"""Training the zoo: ``run`` (one model end to end: recipe, log, card), ``context`` (what a recipe is given) and
``jobs`` (several models as child processes, planned by their recorded times).

Nothing is re-exported here, so that ``core.recipes`` can import ``core.training.context`` without pulling in the
driver, which imports the recipes.
"""
