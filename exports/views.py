"""The ML engineers' exports page: request an export, follow it, download it.

Anyone else gets 404, as for every page outside a role's work.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import require_recent_auth
from exports import links, selectors, services
from exports.forms import ExportRequestForm
from exports.models import ExportStatus
from exports.selectors import ExportFilters


def ml_engineers_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not selectors.can_export(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@ml_engineers_only
@require_http_methods(["GET", "POST"])
def exports_page(request):
    form = ExportRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.export_request(
                user=request.user,
                format=form.cleaned_data["format"],
                filters=ExportFilters.from_dict(form.filters()),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("exports:page")
    exports = selectors.exports_of(user=request.user)[:50]
    return render(request, "exports/page.html", {"form": form, "exports": exports})


@ml_engineers_only
@require_recent_auth
def export_download(request, export_id):
    """After a fresh re-authentication: on to the short-lived link that streams it."""
    export = selectors.export_get_for_requester(user=request.user, export_id=export_id)
    if export is None or export.status != ExportStatus.DONE or not export.archive_name:
        raise Http404
    response = HttpResponseRedirect(links.download_url(user=request.user, export=export))
    response["Cache-Control"] = "no-store"
    return response
