"""``invariance-editor``: parse the command line, set up the process and Qt, open the main window.

Run ``invariance-editor --index 7 --norm linf --eps 0.3`` to start on test digit 7, ``--collection C`` to open
collection C on its first item (``--item ID`` for another; ``--create`` to make a new one), or add
``--screenshot out.png`` to render the window (offscreen works) once the model panel has its first predictions,
save it as a PNG and exit. An unsaved edit is autosaved as a draft in the user data folder; after a crash the
next start offers it again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from PyQt6.QtWidgets import QApplication

from core import budget
from core.data import load_mnist
from core.device import DEVICE_CHOICES, resolve_device
from core.errors import InvarianceError
from editor.runtime import configure_runtime
from editor.screenshot import capture_when_ready
from editor.settings import APPLICATION, ORGANISATION, EditorSettings
from editor.state.drafts import DraftFile, default_draft_path
from editor.state.saving import is_collection
from editor.state.sources import ZooSource
from editor.widgets.window import MainWindow
from editor.xcb_check import exit_if_platform_fails

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invariance-editor", description="Paint invariance examples on MNIST.")
    parser.add_argument("--index", type=int, help="MNIST test index to start with")
    parser.add_argument("--norm", choices=tuple(budget.NORMS), help="threat model norm")
    parser.add_argument("--eps", type=float, help="budget ε in that norm")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="where models run (default: remembered, else auto)")
    parser.add_argument(
        "--collection",
        type=Path,
        help="collection folder to open (on its first item) and save edits to; it must exist unless --create",
    )
    parser.add_argument("--create", action="store_true", help="with --collection: create it when it does not exist")
    parser.add_argument("--item", help="with --collection: open this item (id or id prefix) instead of the first")
    parser.add_argument("--models", help="comma-separated model names (default: remembered, else all available)")
    parser.add_argument("--screenshot", type=Path, help="render the window to this PNG once predictions are in, exit")
    parser.add_argument("--intended", type=int, help="intended label to start with (0-9): also the guide's target")
    parser.add_argument("--hide-guide", action="store_true", help="start with the target guide hidden")
    parser.add_argument("--check", action="store_true", help="run the sensitivity check at start (before a screenshot)")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    return parser


def _error(message: str) -> int:
    print(f"invariance-editor: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["--bench-live"]:  # the live benchmark, with its own options (see editor.bench_live)
        from editor import bench_live  # here: it imports this module's window

        return bench_live.main(arguments[1:], prog="invariance-editor --bench-live")
    args = build_parser().parse_args(arguments)
    if args.item is not None and args.collection is None:
        return _error("--item needs --collection")
    if args.create and args.collection is None:
        return _error("--create needs --collection")
    collection = None if args.collection is None else args.collection.expanduser().resolve()
    if collection is not None and not args.create and not is_collection(collection):
        what = "is not a collection" if collection.exists() else "does not exist"
        return _error(f"--collection {collection} {what} (add --create to make a new collection there)")
    source = ZooSource()
    models = [name for name in args.models.split(",") if name] if args.models else None
    unknown = sorted(set(models or ()) - set(source.available()))
    if unknown:
        known = ", ".join(source.available()) or "none (no checkpoints found)"
        return _error(f"--models: unknown model(s) {', '.join(unknown)}; known models: {known}")
    if args.intended is not None and not 0 <= args.intended <= 9:
        return _error("--intended must be a digit 0-9")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s: %(message)s")
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    configure_runtime()
    app = QApplication.instance() or exit_if_platform_fails(lambda: QApplication(sys.argv[:1]))
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    settings = EditorSettings()
    try:
        images, labels = load_mnist("test")
        device = resolve_device(args.device or settings.device)
        norm = args.norm or settings.norm
        eps = None if args.eps is None else budget.get_norm(norm).validate_eps(args.eps, where="--eps")
    except InvarianceError as error:
        return _error(str(error))
    if args.device:
        settings.device = args.device
    if collection is not None:
        settings.collection = str(collection)
    if args.norm:
        settings.norm = args.norm
    if eps is not None:
        settings.set_eps(norm, eps)
    if args.index is not None:
        if not 0 <= args.index < len(labels):
            return _error(f"--index must be in 0..{len(labels) - 1}")
        settings.index = args.index
    window = MainWindow(
        images,
        labels,
        source=source,
        settings=settings,
        device=device,
        collection=collection,
        models=models,
        drafts=None if args.screenshot is not None else DraftFile(default_draft_path()),
    )
    window.show()
    opened = collection is not None and bool(window.collection_items()) and window.open_item(args.item)
    if args.item is not None and not opened:
        window.shutdown()
        return _error(window.last_error or f"no item {args.item}")
    if args.hide_guide:
        window.state.set_guide_visible(False)
    if args.intended is not None:
        window.state.set_intended_label(args.intended)
    if args.check:
        window.sensitivity.start()
    window.offer_draft()

    def report_unexpected(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        # PyQt aborts on an exception escaping a slot unless a hook is installed: log it, tell the user, go on.
        log.error("unexpected error", exc_info=(kind, error, trace))
        window.show_error(f"internal error: {kind.__name__}: {error} (details in the log)")

    sys.excepthook = report_unexpected
    if args.screenshot is not None:
        capture_when_ready(window, args.screenshot, app.exit)
    code = app.exec()
    window.shutdown()
    if args.screenshot is not None and code == 0:
        print(f"screenshot written to {args.screenshot}: {window.windowTitle()}")
    return code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
