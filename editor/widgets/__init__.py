"""The editor's Qt widgets: one module per thing on screen, named after it (``canvas``, ``budget``, ``models``,
``suggestions``, ...), and the main ``window`` that lays them out. Widgets receive the state in their constructor,
observe its events and change it only through its methods."""
