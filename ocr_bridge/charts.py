"""The model page's reliability diagram, drawn on the server as SVG.

The page's Content-Security-Policy allows no inline script and no inline style, so the
chart is plain SVG with presentation attributes (fill, stroke), escaped text, and a
text table beside it for screen readers. Each model is a line of (mean confidence,
accuracy) points per confidence tenth; the diagonal is perfect calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 360, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 44
# Distinguishable in grey-scale too: dark blue, orange, green, purple (then repeated).
COLOURS = ("#0b5cad", "#b35900", "#1e6b34", "#6a3d9a")


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(value: float) -> float:
    return HEIGHT - BOTTOM - value * (HEIGHT - TOP - BOTTOM)


def reliability_svg(series: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> SafeString:
    """One line per (label, reliability rows); rows as ``evaluation.measure`` writes them."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="reliability-title">',
        '<title id="reliability-title">Reliability diagram: accuracy against confidence</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="#ffffff" stroke="#c9d0d8"/>',
    ]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(
            f'<line x1="{_x(tick):.1f}" y1="{_y(0):.1f}" x2="{_x(tick):.1f}" '
            f'y2="{_y(0) + 4:.1f}" stroke="#4a525c"/>'
            f'<text x="{_x(tick):.1f}" y="{_y(0) + 16:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#1b1f24">{tick:.1f}</text>'
            f'<text x="{LEFT - 6}" y="{_y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#1b1f24">{tick:.1f}</text>'
        )
    parts.append(
        f'<line x1="{_x(0):.1f}" y1="{_y(0):.1f}" x2="{_x(1):.1f}" y2="{_y(1):.1f}" '
        'stroke="#8a939c" stroke-dasharray="4 4"/>'
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 8}" font-size="12" '
        'text-anchor="middle" fill="#1b1f24">confidence</text>'
        f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2:.1f}" font-size="12" '
        f'text-anchor="middle" fill="#1b1f24" transform="rotate(-90 12 '
        f'{(TOP + HEIGHT - BOTTOM) / 2:.1f})">accuracy</text>'
    )
    for index, (label, rows) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = [(float(r["confidence"]), float(r["accuracy"]), int(r["n"])) for r in rows]
        if len(points) > 1:
            path = " ".join(f"{_x(c):.1f},{_y(a):.1f}" for c, a, _ in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for confidence, accuracy, n in points:
            parts.append(
                f'<circle cx="{_x(confidence):.1f}" cy="{_y(accuracy):.1f}" r="3.5" '
                f'fill="{colour}"><title>{escape(label)}: {n} crops, confidence '
                f"{confidence:.2f}, accuracy {accuracy:.2f}</title></circle>"
            )
        legend_y = TOP + 14 + 16 * index
        parts.append(
            f'<rect x="{LEFT + 8}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{LEFT + 22}" y="{legend_y}" font-size="11" fill="#1b1f24">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    # Every value above is a number we formatted or text passed through escape().
    return mark_safe("".join(parts))  # noqa: S308
