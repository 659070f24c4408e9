"""Sub-commands of the ``invariance`` CLI, one module per feature (see ``core.cli``)."""
