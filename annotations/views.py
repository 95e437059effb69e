"""Pages of the labeling domain: the home page and the annotator workspace."""

from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from annotations import roles


@login_required
def home(request):
    user_roles = [role for role in roles.ALL_ROLES if roles.has_role(request.user, role)]
    return render(request, "annotations/home.html", {"roles": user_roles})


@login_required
def label_page(request):
    """The annotator workspace; the loop itself runs in the browser (frontend/label/)."""
    if not roles.can_label(request.user):
        raise PermissionDenied("Only annotators can label.")
    return render(
        request,
        "annotations/label.html",
        {
            "low_confidence_threshold": 0.6,
            "lease_seconds": settings.TASK_LEASE_SECONDS,
        },
    )


@cache
def _favicon_svg() -> bytes:
    with open(finders.find("favicon.svg"), "rb") as icon:
        return icon.read()


@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the icon is an SVG."""
    return HttpResponse(_favicon_svg(), content_type="image/svg+xml")
