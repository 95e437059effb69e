"""Figures as people read them on the app's pages."""

from django import template

register = template.Library()


@register.filter
def seconds(milliseconds) -> str:
    """1234 -> "1.2": seconds with one decimal (a label takes a few seconds, so whole
    seconds rounded 0.4 s to 0)."""
    if milliseconds is None or milliseconds == "":
        return "\u2013"  # an en dash: no figure
    return f"{float(milliseconds) / 1000:.1f}"
