"""Pages of the labeling domain (the annotator workspace arrives with its own issue)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from annotations import roles


@login_required
def home(request):
    user_roles = [role for role in roles.ALL_ROLES if roles.has_role(request.user, role)]
    return render(request, "annotations/home.html", {"roles": user_roles})
