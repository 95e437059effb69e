"""The navigation bar: each role's pages, and where a person's work starts.

One table (``PAGES``) drives both, so the bar and the "continue to your work" links
after sign-in agree with the roles' access rules in ``annotations.roles``.
"""

from dataclasses import dataclass

from django import template
from django.urls import reverse

from annotations import roles

register = template.Library()


@dataclass(frozen=True)
class Page:
    url_name: str
    title: str
    roles: tuple[str, ...]


# In the order of the bar; a person's work starts at the first page their roles reach.
PAGES = (
    Page("label", "Label", (roles.ANNOTATOR,)),
    Page("review", "Review", (roles.REVIEWER,)),
    Page("quality:metrics", "Quality", (roles.REVIEWER, roles.ADMIN)),
    Page("quality:detector-feedback", "Detector feedback", (roles.REVIEWER, roles.ML_ENGINEER)),
    Page("exports:page", "Exports", (roles.ML_ENGINEER,)),
    Page("models:page", "Models", (roles.ML_ENGINEER, roles.ADMIN)),
    Page("audit:events", "Audit trail", (roles.ADMIN,)),
)


def pages_for(user) -> list[dict]:
    if not getattr(user, "is_authenticated", False):
        return []
    return [
        {"url": reverse(page.url_name), "title": page.title, "name": page.url_name}
        for page in PAGES
        if any(roles.has_role(user, role) for role in page.roles)
    ]


def work_url(user) -> str:
    """Where a person's work starts: their first page, or the home page."""
    pages = pages_for(user)
    return pages[0]["url"] if pages else reverse("home")


@register.inclusion_tag("nav.html", takes_context=True)
def site_nav(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not _past_the_mfa_gate(request):
        return {"pages": [], "show_admin": False}  # the pages would only send them back
    here = request.path
    pages = pages_for(user)
    matching = [page for page in pages if here.startswith(page["url"])]
    if matching:  # the longest match: /quality/detector-feedback/ is not /quality/
        max(matching, key=lambda page: len(page["url"]))["current"] = True
    show_admin = bool(user and roles.has_role(user, roles.ADMIN) and user.is_staff)
    return {"pages": pages, "show_admin": show_admin}


def _past_the_mfa_gate(request) -> bool:
    from accounts.sessions import has_completed_mfa

    return has_completed_mfa(request.session)


@register.simple_tag(takes_context=True)
def continue_to_work(context) -> str:
    request = context.get("request")
    return work_url(request.user) if request else reverse("home")
