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


@register.filter
def readable(value) -> str:
    """An audit event's detail value for people: lists joined, nothing as "none"."""
    from audit.actions import readable_value

    return readable_value(value)


@register.filter
def humanize_key(key: str) -> str:
    return str(key).replace("_", " ").capitalize()


@register.simple_tag(takes_context=True)
def recently_confirmed(context) -> bool:
    """Whether the person confirmed it is them in the last minutes (allauth's
    re-authentication): exports can then be downloaded without a detour."""
    from allauth.account.internal.flows.reauthentication import did_recently_reauthenticate

    request = context.get("request")
    return bool(request and request.user.is_authenticated and did_recently_reauthenticate(request))
