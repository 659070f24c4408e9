"""How far a study has got: the figures of the dashboard and of ``invariance study status --db``, and its plot.

Computed from the database alone (a read transaction), so the server need not run.
"""

from __future__ import annotations

import html
import time
from collections import defaultdict
from typing import Any, Final

from sqlalchemy import Connection, func, select

from core.study.agreement import agreement_stats
from core.study.server.assign import StudyConfig
from core.study.server.db import study_items, study_raters, study_trials

RATE_WINDOW_S: Final = 600.0
"""Kept ratings over this last stretch give the pace of the completion estimate."""
PLOT_POINTS: Final = 60


def study_status(connection: Connection, config: StudyConfig, now: float | None = None) -> dict[str, Any]:
    """The study's figures as one JSON-ready dict.

    ``raters_started``/``_finished``/``_excluded``/``_abandoned``/``_active``; ``answers`` (every stored answer,
    controls and attention checks included); ``items``; ``items_complete`` (items with at least K kept ratings);
    ``ratings_needed`` (kept item ratings still missing); ``completion_estimate_min`` (at the pace of the last ten
    minutes; ``None`` without one); ``sets``: per set, its items, complete items and the kept raters' agreement
    (Krippendorff's α, Fleiss' κ); ``progress``: [minutes since the study began, answers so far] points.
    """
    now = time.time() if now is None else now
    design = config.design
    statuses: dict[str, int] = dict(
        connection.execute(select(study_raters.c.status, func.count()).group_by(study_raters.c.status)).all()
    )
    answers = connection.execute(select(func.count()).where(study_trials.c.answer.is_not(None))).scalar_one()
    kept_rows = connection.execute(
        select(study_trials.c.item_pk, study_raters.c.name, study_trials.c.answer, study_trials.c.answered_at)
        .join(study_raters, study_raters.c.id == study_trials.c.rater_id)
        .where(
            study_trials.c.item_pk.is_not(None), study_trials.c.answer.is_not(None), study_raters.c.status != "excluded"
        )
    ).all()
    sets = dict(connection.execute(select(study_items.c.id, study_items.c.set_name)).all())
    labels: dict[int, dict[str, int]] = {pk: {} for pk in sets}
    for item_pk, name, label, _ in kept_rows:
        labels[item_pk][name] = label
    k = design.ratings_per_item
    recent = sum(1 for row in kept_rows if row[3] >= now - RATE_WINDOW_S)
    needed = sum(max(0, k - len(item)) for item in labels.values())
    pace = recent / (RATE_WINDOW_S / 60.0)
    by_set: dict[str, list[dict[str, int]]] = defaultdict(list)
    for pk, item in labels.items():
        by_set[sets[pk]].append(item)
    per_set = {}
    for name, items in sorted(by_set.items()):
        stats = agreement_stats(items)
        per_set[name] = {
            "items": len(items),
            "items_complete": sum(len(item) >= k for item in items),
            "krippendorff_alpha": stats.krippendorff_alpha,
            "fleiss_kappa": stats.fleiss_kappa,
            "fleiss_items": stats.fleiss_items,
            "fleiss_raters": stats.fleiss_raters,
        }
    return {
        "study_id": config.study_id,
        "completion_code": config.completion_code,
        "design": {
            "ratings_per_item": k,
            "items_per_rater": design.items_per_rater,
            "controls_per_rater": design.controls_per_rater,
            "attention_checks": design.attention_checks,
            "abandon_after_min": design.abandon_after_min,
        },
        "raters_started": sum(statuses.values()),
        "raters_active": statuses.get("active", 0),
        "raters_finished": statuses.get("finished", 0),
        "raters_excluded": statuses.get("excluded", 0),
        "raters_abandoned": statuses.get("abandoned", 0),
        "answers": answers,
        "items": len(labels),
        "items_complete": sum(len(item) >= k for item in labels.values()),
        "ratings_kept": len(kept_rows),
        "ratings_needed": needed,
        "ratings_per_min": round(pace, 2),
        "completion_estimate_min": None if needed == 0 or pace == 0 else round(needed / pace, 1),
        "sets": per_set,
        "progress": _progress(connection, config.created_at, now),
    }


def _progress(connection: Connection, start: float, now: float) -> list[list[float]]:
    times = sorted(
        connection.execute(select(study_trials.c.answered_at).where(study_trials.c.answered_at.is_not(None))).scalars()
    )
    if not times:
        return [[0.0, 0]]
    span = max(now, times[-1]) - start
    points = []
    index = 0
    for step in range(PLOT_POINTS + 1):
        moment = start + span * step / PLOT_POINTS
        while index < len(times) and times[index] <= moment:
            index += 1
        points.append([round((moment - start) / 60.0, 2), index])
    return points


def progress_svg(progress: list[list[float]], *, width: int = 360, height: int = 120) -> str:
    """A small line plot of answers over time (minutes since the study began)."""
    last_minute = max(progress[-1][0], 1e-9)
    most = max(point[1] for point in progress) or 1
    margin = 28
    xy = [
        (margin + (width - margin - 6) * minute / last_minute, height - margin + 6 - (height - margin) * count / most)
        for minute, count in progress
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    axis = f"M{margin},6 V{height - margin + 6} H{width - 6}"
    labels = (
        f'<text x="{margin - 4}" y="14" text-anchor="end">{int(most)}</text>'
        f'<text x="{margin - 4}" y="{height - margin + 6}" text-anchor="end">0</text>'
        f'<text x="{width - 6}" y="{height - 6}" text-anchor="end">{html.escape(f"{last_minute:.1f}")} min</text>'
        f'<text x="{margin}" y="{height - 6}">answers over time</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="10" fill="#444">'
        f'<path d="{axis}" stroke="#888" fill="none"/><polyline points="{line}" stroke="#1a73e8" stroke-width="2" '
        f'fill="none"/>{labels}</svg>'
    )


def format_status(figures: dict[str, Any]) -> str:
    """The figures of :func:`study_status` as a few lines of text."""
    design = figures["design"]
    eta = figures["completion_estimate_min"]
    lines = [
        f"study {figures['study_id']} (completion code {figures['completion_code']}): "
        f"K={design['ratings_per_item']} ratings per item, "
        f"{design['items_per_rater']} items + {design['controls_per_rater']} controls + "
        f"{design['attention_checks']} attention checks per rater",
        f"raters: {figures['raters_started']} started, {figures['raters_active']} active, "
        f"{figures['raters_finished']} finished, {figures['raters_excluded']} excluded, "
        f"{figures['raters_abandoned']} abandoned",
        f"answers: {figures['answers']}; items with K kept ratings: {figures['items_complete']} of {figures['items']}; "
        f"kept ratings missing: {figures['ratings_needed']}",
        f"pace: {figures['ratings_per_min']} kept ratings/min; estimated time to go: "
        + ("n/a" if eta is None else f"{eta} min"),
    ]
    for name, entry in figures["sets"].items():
        alpha, kappa = entry["krippendorff_alpha"], entry["fleiss_kappa"]
        lines.append(
            f"set {name}: {entry['items_complete']}/{entry['items']} complete, Krippendorff alpha "
            + ("n/a" if alpha is None else f"{alpha:.3f}")
            + ", Fleiss kappa "
            + ("n/a" if kappa is None else f"{kappa:.3f}")
        )
    return "\n".join(lines)
