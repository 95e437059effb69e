"""Small charts as SVG, drawn on the server (the CSP allows no script; no chart library).

Presentation attributes only (``fill``, ``stroke``), never ``style``: the CSP forbids
inline styles too. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40
COLOURS = ("#2f6fb0", "#d9822b", "#3a9a5b", "#8a55b5")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no data at that point


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"


# Width of one character of the axis labels (font-size 11), and the gap kept between labels.
CHAR_WIDTH, LABEL_GAP = 6.6, 10


def label_step(labels: Sequence[str], slot: float) -> int:
    """Every how many slots an axis label fits without touching the next one."""
    widest = max((len(label) for label in labels), default=0) * CHAR_WIDTH + LABEL_GAP
    return max(1, math.ceil(widest / max(slot, 1)))


def _frame(*, title: str, labels: Sequence[str], top: float, percent: bool) -> list[str]:
    inner_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" '
        'stroke="#888"/>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + inner_h * (1 - fraction)
        value = top * fraction
        text = f"{value:.0%}" if percent else _fmt(value)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{escape(text)}</text>'
        )
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    for index in range(0, len(labels), label_step(labels, slot)):
        x = LEFT + slot * (index + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" '
            f'fill="#555">{escape(labels[index])}</text>'
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts = []
    for index, one in enumerate(series):
        x = LEFT + 150 * index
        colour = COLOURS[index % len(COLOURS)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11" fill="#333">'
            f"{escape(one.name)}</text>"
        )
    return parts


def _top(series: Sequence[Series], percent: bool) -> float:
    if percent:
        return 1.0
    highest = max((v for one in series for v in one.values if v is not None), default=0)
    return max(float(highest), 1.0)


def bar_chart(
    *, title: str, labels: Sequence[str], series: Sequence[Series], percent: bool = False
) -> SafeString:
    """Grouped bars: one group per label, one bar per series."""
    top = _top(series, percent)
    inner_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    parts = _frame(title=title, labels=labels, top=top, percent=percent)
    for s_index, one in enumerate(series):
        colour = COLOURS[s_index % len(COLOURS)]
        for index, value in enumerate(one.values):
            if value is None:
                continue
            height = inner_h * min(value / top, 1.0)
            x = LEFT + slot * index + slot * 0.1 + bar * s_index
            shown = f"{value:.0%}" if percent else _fmt(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + inner_h - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{colour}"><title>{escape(labels[index])}: '
                f"{escape(one.name)} {escape(shown)}</title></rect>"
            )
    if len(series) > 1:
        parts.extend(_legend(series))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  every text above is escaped


def line_chart(
    *, title: str, labels: Sequence[str], series: Sequence[Series], percent: bool = False
) -> SafeString:
    """One polyline per series; gaps where a value is None."""
    top = _top(series, percent)
    inner_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    parts = _frame(title=title, labels=labels, top=top, percent=percent)
    for s_index, one in enumerate(series):
        colour = COLOURS[s_index % len(COLOURS)]
        run: list[str] = []
        for index, value in enumerate([*one.values, None]):
            if value is None:
                if len(run) > 1:
                    parts.append(
                        f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                        'stroke-width="2"/>'
                    )
                elif run:
                    x, y = run[0].split(",")
                    parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
                run = []
                continue
            x = LEFT + slot * (index + 0.5)
            y = TOP + inner_h * (1 - min(value / top, 1.0))
            run.append(f"{x:.1f},{y:.1f}")
    if len(series) > 1:
        parts.extend(_legend(series))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  every text above is escaped
