"""The CSP header built once per process is the one django-csp would build, and whatever
django-csp lets a view or a request change still goes the library's way."""

import pytest
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from dropturk.csp import CSPMiddleware

HEADER = "Content-Security-Policy"


def _through(middleware_class, response=None, *, nonce=False):
    request = RequestFactory().get("/label/")
    middleware = middleware_class(lambda request: response or HttpResponse("page"))
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)  # a template asked for the nonce
    return request, middleware.process_response(request, middleware.get_response(request))


def test_the_kept_header_is_the_librarys():
    _, ours = _through(CSPMiddleware)
    _, theirs = _through(LibraryCSPMiddleware)
    assert ours[HEADER] == theirs[HEADER]
    assert "frame-ancestors 'none'" in ours[HEADER]


def test_a_changed_setting_changes_the_header(settings):
    _through(CSPMiddleware)  # fills the process's copy
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    _, response = _through(CSPMiddleware)
    assert response[HEADER] == "default-src 'none'"


def test_a_view_with_its_own_policy_gets_it():
    response = HttpResponse("page")
    response._csp_update = {"img-src": ["https://example.org"]}
    _, answered = _through(CSPMiddleware, response)
    assert "https://example.org" in answered[HEADER]


def test_a_nonce_used_by_the_page_is_in_the_header(settings):
    from csp.constants import NONCE, SELF

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}
    request, response = _through(CSPMiddleware, nonce=True)
    assert f"'nonce-{request._csp_nonce}'" in response[HEADER]


def test_a_nonce_asked_for_after_the_header_is_an_error():
    from csp.exceptions import CSPNonceError

    request, _ = _through(CSPMiddleware)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
