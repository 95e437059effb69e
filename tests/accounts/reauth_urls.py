"""The project's routes plus two stand-ins for exports, guarded by require_recent_auth."""

from django.http import JsonResponse
from django.urls import path

from accounts.decorators import require_recent_auth
from dropturk.urls import urlpatterns as project_urlpatterns


@require_recent_auth
def export(request):
    return JsonResponse({"exported": True})


urlpatterns = [
    path("exports/stand-in/", export),
    path("api/v1/exports/stand-in/", export),
    *project_urlpatterns,
]
