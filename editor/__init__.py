"""Invariance Lab editor: PyQt6 + pyqtgraph views over the headless ``core`` library.

- ``state/``: the plain-Python model (editing state, tools, model sources, saving); never imports Qt.
- ``widgets/``: the Qt widgets, one module per thing on screen; :class:`editor.widgets.window.MainWindow` puts them
  together over one ``EditorState``.
- ``workers/``: work off the GUI thread (inference on every stroke, cancellable tasks).
- ``app`` is the entry point (console script ``invariance-editor``); ``runtime`` holds its process settings,
  ``settings`` the persisted preferences, ``screenshot`` the ``--screenshot`` option, ``bench_live`` the live
  benchmark, ``xcb_check`` the check for Qt's system libraries.
"""
