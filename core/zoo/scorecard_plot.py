"""The scorecard's plot: agreement with humans on invariance examples against robust accuracy (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import ModelError
from core.files import atomic_output
from core.zoo.scorecard import ScoreRow


def write_plot(rows: Sequence[ScoreRow], path: Path) -> int:
    """Write the PNG: one point per model with a robust accuracy, against its agreement with humans (models
    without it are left out), or on the robustness axis alone when no model has human agreement yet. Returns
    the number of points plotted."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    robust = [(row, row.robust, row.human_pooled) for row in rows if row.robust.value is not None]
    if not robust:
        raise ModelError("nothing to plot: no model has a robust accuracy (train or evaluate a model first)")
    points = [(row, x, y) for row, x, y in robust if y.value is not None]
    figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    if points:
        for row, x, y in points:
            colour = "tab:red" if row.origin == "user" else "tab:blue"
            axes.scatter([100 * float(x.value or 0)], [100 * float(y.value or 0)], color=colour)
            axes.annotate(f"{row.name} ({row.norm} {row.eps})", (100 * float(x.value or 0), 100 * float(y.value or 0)),
                          fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
        axes.set_ylabel("agreement with humans on invariance examples (%)")
    else:  # no human labels yet: the robustness axis alone, one row per model
        for height, (row, x, _) in enumerate(robust):
            colour = "tab:red" if row.origin == "user" else "tab:blue"
            axes.scatter([100 * float(x.value or 0)], [height], color=colour)
            axes.annotate(f"{row.name} ({row.norm} {row.eps})", (100 * float(x.value or 0), height),
                          fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
        axes.set_yticks([])
        axes.set_ylim(-1, len(robust))
        axes.set_ylabel("no human-labelled collection: pass --collections", fontsize=8)
        points = robust
    axes.set_xlabel("robust accuracy at the model's threat model (%; AutoAttack, else PGD)")
    axes.set_title("Sensitivity vs invariance: robustness against agreement with people", fontsize=10)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    if not path.parent.is_dir():
        raise ModelError(f"{path.parent}: no such folder for the plot")
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return len(points)
