"""A clear start-up error when Qt cannot load its platform plugin (e.g. the xcb system libraries are missing).

Qt's own message ("no Qt platform plugin could be initialized. Reinstalling the application may fix this
problem") does not say what to install. :func:`exit_if_platform_fails` installs a Qt message handler for the
time the ``QApplication`` is created: when Qt reports that fatal error, it prints ONE line naming the missing
system libraries (from ``ldd`` of PyQt6's xcb plugin), the packages that provide them and the command that
installs them (Debian/Ubuntu ``apt``, Fedora ``dnf``), then exits with :data:`EXIT_NO_PLATFORM`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, TypeVar

from PyQt6.QtCore import QLibraryInfo, QMessageLogContext, QtMsgType, qInstallMessageHandler

EXIT_NO_PLATFORM: Final = 3
XCB_LIBRARIES: Final = {
    # soname: (Debian/Ubuntu package, Fedora package)
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}
"""What PyQt6's xcb plugin links against beyond the basics, and which package provides each library."""
USUAL_MISSING: Final = (
    "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-image.so.0", "libxcb-keysyms.so.1",
    "libxcb-render-util.so.0", "libxkbcommon-x11.so.0",
)  # fmt: skip
"""The ones a fresh desktop install usually lacks (listed when ldd cannot tell)."""


def xcb_plugin() -> Path:
    """PyQt6's xcb platform plugin (the shared library)."""
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """Sonames ``ldd`` reports "not found" for the plugin (in order, once each); [] when none or no ldd."""
    plugin = xcb_plugin() if plugin is None else plugin
    ldd = shutil.which("ldd")
    if ldd is None or not plugin.exists():
        return []
    try:
        done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    missing: list[str] = []
    for line in done.stdout.splitlines():
        name, _, where = line.strip().partition("=>")
        if "not found" in where and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def install_hint(missing: list[str]) -> str:
    """'sudo apt install …' (Debian/Ubuntu) and 'sudo dnf install …' (Fedora) for ``missing`` sonames."""
    sonames = missing or list(USUAL_MISSING)
    debian = _unique(XCB_LIBRARIES[name][0] for name in sonames if name in XCB_LIBRARIES)
    fedora = _unique(XCB_LIBRARIES[name][1] for name in sonames if name in XCB_LIBRARIES)
    unknown = [name for name in sonames if name not in XCB_LIBRARIES]
    hint = f"sudo apt install {' '.join(debian)} (Debian/Ubuntu) or sudo dnf install {' '.join(fedora)} (Fedora)"
    if unknown:
        hint += f", plus whatever provides {', '.join(unknown)}"
    return hint


def platform_error_line(platform: str, missing: list[str]) -> str:
    """The one line printed when the platform plugin cannot be loaded."""
    what = (
        f"missing system libraries: {', '.join(missing)}"
        if missing
        else f"the xcb plugin needs {', '.join(USUAL_MISSING)}, among others"
    )
    return (
        f"invariance-editor: error: Qt cannot load its platform plugin {platform!r} ({what}); install them with: "
        f"{install_hint(missing)}; or run without a display with QT_QPA_PLATFORM=offscreen"
    )


T = TypeVar("T")


def exit_if_platform_fails(create: Callable[[], T], program: str = "invariance-editor") -> T:
    """Call ``create()`` (which builds the QApplication); on Qt's fatal platform-plugin error print one line
    (see :func:`platform_error_line`) and exit with :data:`EXIT_NO_PLATFORM` instead of Qt's abort."""
    platform = os.environ.get("QT_QPA_PLATFORM", "") or "xcb"

    def handler(kind: QtMsgType, context: QMessageLogContext, message: str | None) -> None:
        text = message or ""
        if kind == QtMsgType.QtFatalMsg and "platform plugin" in text:
            line = platform_error_line(platform, missing_libraries())
            sys.stderr.write(line.replace("invariance-editor", program, 1) + "\n")
            sys.stderr.flush()
            os._exit(EXIT_NO_PLATFORM)  # Qt aborts right after this handler returns: leave first
        if context.category == "qt.qpa.plugin" or "platform plugin" in text:
            return  # Qt's own lines about the plugin: the one line above replaces them
        sys.stderr.write(text + "\n")

    qInstallMessageHandler(handler)
    try:
        return create()
    finally:
        qInstallMessageHandler(None)


def _unique(names: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen
