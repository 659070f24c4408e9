"""The editor's model, in plain Python (no Qt): the editing state (``editing``), its tools (``tools``), where
models come from (``sources``), how an edit is saved (``saving``) and the crash draft of an unsaved edit
(``drafts``). Widgets observe the state and call its methods; nothing here imports PyQt6 or pyqtgraph."""
