"""Work off the GUI thread: model inference on every stroke (``prediction``, latest request wins), cancellable
tasks with progress (``tasks``) and the autosave of an unsaved edit (``autosave``)."""
