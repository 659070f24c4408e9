"""Invariance Lab editor: PyQt6 + pyqtgraph views over the headless ``core`` library.

Plain-Python models (``state``, ``tools``, ``sources``) never import Qt; widgets live in ``qt_*.py`` and
observe them. :class:`editor.window.MainWindow` puts the widgets together over one ``EditorState``; the entry
point is :func:`editor.app.run` (console script ``invariance-editor``), the screenshot option is in ``screenshot``.
"""
