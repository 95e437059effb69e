"""Django's own error answers (400, 403, 404, 500, CSRF failure): JSON under /api/, the
site's pages elsewhere. DRF answers its views' errors in JSON itself; these cover what
happens outside them (an unknown /api/ path, a disallowed Host, an error in middleware).
"""

from django.http import JsonResponse
from django.views import csrf, defaults

_API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(_API_PREFIX)


def _json(detail: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if _is_api(request):
        return _json("Bad request.", 400)
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if _is_api(request):
        return _json("You do not have permission to perform this action.", 403)
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if _is_api(request):
        return _json("Not found.", 404)
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if _is_api(request):
        return _json("Server error: the request was not completed.", 500)
    return defaults.server_error(request, template_name)


def csrf_failure(request, reason=""):
    if _is_api(request):
        return _json("CSRF check failed: send the X-CSRFToken header with the csrf cookie.", 403)
    return csrf.csrf_failure(request, reason)
