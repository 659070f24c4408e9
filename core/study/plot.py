"""Figure 6 as a standalone SVG (no plotting library, no Qt): agreement with humans against training ε."""

from __future__ import annotations

from html import escape
from typing import Final

from core.study.report import FIGURE6_PANELS, Report

_PANEL_W: Final = 360
_PANEL_H: Final = 260
_MARGIN: Final = {"left": 56, "right": 16, "top": 36, "bottom": 48}
_TITLES: Final = {
    "linf": "ℓ∞-PGD models on ℓ∞ invariance examples",
    "l0": "ℓ1-trained models on ℓ0 invariance examples",
}


def figure6_svg(report: Report) -> str:
    """An SVG document with one panel per Figure 6 series (x: training ε, y: agreement in %).

    Points with no successful items (agreement undefined) are left out; a panel with no point says so.
    """
    panels = list(FIGURE6_PANELS)
    width = len(panels) * (_PANEL_W + _MARGIN["left"] + _MARGIN["right"])
    height = _PANEL_H + _MARGIN["top"] + _MARGIN["bottom"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for number, panel in enumerate(panels):
        x0 = number * (_PANEL_W + _MARGIN["left"] + _MARGIN["right"]) + _MARGIN["left"]
        y0 = _MARGIN["top"]
        parts.append(_panel(report, panel, x0, y0))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(report: Report, panel: str, x0: float, y0: float) -> str:
    points = [p for p in report.figure6 if p.panel == panel and p.agreement.agreement is not None]
    out = [
        f'<text x="{x0 + _PANEL_W / 2}" y="{y0 - 16}" text-anchor="middle" font-size="13">'
        f"{escape(_TITLES.get(panel, panel))}</text>",
        f'<rect x="{x0}" y="{y0}" width="{_PANEL_W}" height="{_PANEL_H}" fill="none" stroke="#444"/>',
    ]
    for tick in range(0, 101, 20):
        y = y0 + _PANEL_H * (1 - tick / 100)
        out.append(f'<line x1="{x0 - 4}" y1="{y}" x2="{x0 + _PANEL_W}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 8}" y="{y + 4}" text-anchor="end">{tick}%</text>')
    out.append(
        f'<text x="{x0 - 42}" y="{y0 + _PANEL_H / 2}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 - 42} {y0 + _PANEL_H / 2})">agreement with humans</text>'
    )
    out.append(f'<text x="{x0 + _PANEL_W / 2}" y="{y0 + _PANEL_H + 36}" text-anchor="middle">training ε</text>')
    if not points:
        out.append(
            f'<text x="{x0 + _PANEL_W / 2}" y="{y0 + _PANEL_H / 2}" text-anchor="middle" fill="#888">'
            "no successful items or no sweep models</text>"
        )
        return "\n".join(out)
    top = max(p.eps for p in points) or 1.0

    def sx(eps: float) -> float:
        return x0 + 12 + (_PANEL_W - 24) * eps / top

    def sy(value: float) -> float:
        return y0 + _PANEL_H * (1 - value)

    for eps in sorted({p.eps for p in points}):
        out.append(f'<text x="{sx(eps)}" y="{y0 + _PANEL_H + 16}" text-anchor="middle">{eps:g}</text>')
    path = " ".join(f"{sx(p.eps):.1f},{sy(p.agreement.agreement or 0.0):.1f}" for p in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for p in points:
        value = p.agreement.agreement or 0.0
        out.append(
            f'<circle cx="{sx(p.eps):.1f}" cy="{sy(value):.1f}" r="4" fill="#1f77b4">'
            f"<title>{escape(p.model)}: {100 * value:.1f}% of {p.agreement.n}</title></circle>"
        )
    return "\n".join(out)
