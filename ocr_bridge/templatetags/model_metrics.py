"""Filters of the model page: fractions as percentages, seconds as durations."""

from django import template

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.9234 → "92.3%"; nothing measured → "-"."""
    if value is None or value == "":
        return "-"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def duration(seconds) -> str:
    """Seconds as "12 min 5 s" (or "-")."""
    if seconds is None or seconds == "":
        return "-"
    minutes, rest = divmod(round(float(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


@register.filter
def change(value, before) -> str:
    """The change of a fraction in percentage points, signed: "+4.2 pt", "-6.0 pt"."""
    if value is None or before is None or value == "" or before == "":
        return "-"
    return f"{(float(value) - float(before)) * 100:+.1f} pt"
