"""Draw docs/architecture.png, the layers of Invariance Lab (run: python docs/make_architecture_figure.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# (left, bottom, width, height, title, contents, colour), in figure units (0-10 wide, 0-6.7 high).
BOXES = [
    (
        0.2,
        5.3,
        9.6,
        1.0,
        "5  entry points",
        "core/commands/ + core/cli.py (the `invariance` CLI)   ·   editor/app.py (`invariance-editor`)\n"
        "benchmarks: geninv/bench.py, zoo/bench_eval.py, study/server/bench.py, editor/bench_live.py",
        "#d9e7f7",
    ),
    (
        0.2,
        3.55,
        5.2,
        1.4,
        "4  editor/  (PyQt6, pyqtgraph)",
        "widgets/  Qt views, observe the state\n"
        "workers/  threads for slow work\n"
        "state/    EditorState, plain Python, no Qt\n"
        "settings, runtime (Qt and torch threads)",
        "#e4f2df",
    ),
    (
        5.6,
        3.55,
        4.2,
        1.4,
        "4  core/study/server/",
        "the study web service:\nASGI app (starlette, uvicorn),\ndatabase (SQLite or PostgreSQL)",
        "#e4f2df",
    ),
    (
        0.2,
        2.2,
        9.6,
        1.0,
        "3  core features",
        "zoo/ (shipped + user models, evaluation)   geninv/   collection/   study/\n"
        "training/ (loop, jobs, recipes/)   attacks   certify   sensitivity",
        "#fbeed5",
    ),
    (
        0.2,
        1.25,
        9.6,
        0.6,
        "2  sharded work",
        "core/sharding.py: fixed chunks on a local pool or Dask, resumable",
        "#f3e1f1",
    ),
    (
        0.2,
        0.05,
        9.6,
        0.95,
        "1  core basics",
        "budget (norms)  data (MNIST)  images  paths  files (atomic writes)  errors  device (threads)\n"
        "labels  cache  interrupt (Ctrl-C and SIGTERM: keep what is done)",
        "#eeeeee",
    ),
]
# Arrows: "may import" from the upper box to the lower one (index pairs into BOXES).
ARROWS = [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3), (3, 4), (4, 5)]


def draw(path: Path) -> None:
    figure = plt.figure(figsize=(10, 6.7), dpi=110)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 10)
    axes.set_ylim(0, 6.7)
    axes.axis("off")
    for left, bottom, width, height, title, contents, colour in BOXES:
        axes.add_patch(
            FancyBboxPatch(
                (left, bottom),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=colour,
                edgecolor="#444444",
                linewidth=1.2,
            )
        )
        axes.text(left + 0.12, bottom + height - 0.1, title, ha="left", va="top", fontsize=12, fontweight="bold")
        axes.text(
            left + 0.12,
            bottom + height - 0.42,
            contents,
            ha="left",
            va="top",
            fontsize=9.5,
            family="monospace",
            linespacing=1.35,
        )
    for upper, lower in ARROWS:
        u_left, u_bottom, u_width, _, *_ = BOXES[upper]
        l_left, l_bottom, l_width, l_height, *_ = BOXES[lower]
        x_upper = u_left + u_width / 2
        x_lower = l_left + l_width / 2
        x = (max(u_left, l_left) + min(u_left + u_width, l_left + l_width)) / 2
        if upper == 0 and lower == 3:  # the CLI reaches the core features past the editor and the server
            x = 5.5
        elif x_upper != x_lower and upper != 0:
            x = x_upper
        axes.add_patch(
            FancyArrowPatch(
                (x, u_bottom),
                (x, l_bottom + l_height),
                arrowstyle="-|>",
                mutation_scale=14,
                color="#555555",
                linewidth=1.2,
            )
        )
    axes.text(9.85, 6.62, "every import points down", ha="right", va="top", fontsize=9, style="italic")
    figure.savefig(path)


if __name__ == "__main__":
    draw(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("architecture.png"))
