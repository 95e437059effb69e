"""The Content-Security-Policy header, built once per process.

django-csp builds the header from settings on every response (dataclass copies, sorting,
joining: about a tenth of a millisecond, on every request of the annotator loop). For a
response whose view set no policy of its own and a request that used no nonce — every
response of ours — the result is always the same, so ``CSPMiddleware`` keeps it. Anything
else (django-csp's per-view decorators, a nonce, excluded URL prefixes, DEBUG error pages)
goes the library's own way.
"""

from functools import cache

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What django-csp's decorators set on a response.
_PER_VIEW_ATTRIBUTES = tuple(
    f"_csp_{kind}{suffix}"
    for kind in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)
_DEBUG_PAGES = (404, 500)


@cache
def _headers() -> tuple[str, str]:
    """The enforced and the report-only header, as django-csp builds them from settings."""
    return build_policy(), build_policy(report_only=True)


@cache
def _has_excluded_prefixes() -> bool:
    return any(
        (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES")
        for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    )


@receiver(setting_changed)
def _forget(setting, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY") or setting == "DEBUG":
        _headers.cache_clear()
        _has_excluded_prefixes.cache_clear()


class CSPMiddleware(LibraryCSPMiddleware):
    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_VIEW_ATTRIBUTES)
            or _has_excluded_prefixes()
            or (settings.DEBUG and response.status_code in _DEBUG_PAGES)
        ):
            return super().process_response(request, response)
        enforced, report_only = _headers()
        if enforced and HEADER not in response:
            response[HEADER] = enforced
        if report_only and HEADER_REPORT_ONLY not in response:
            response[HEADER_REPORT_ONLY] = report_only
        # As the library does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
