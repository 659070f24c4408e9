"""Work off the GUI thread: model inference on every stroke (``prediction``, latest request wins) and
cancellable tasks with progress (``tasks``)."""
