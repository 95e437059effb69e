"""Who is asking, for the audit trail: the request id and client IP of the current work.

Set once per HTTP request (``RequestContextMiddleware``) and per Celery task (signals in
``audit.apps``), read by ``audit.record`` so callers don't thread them through every
service. A ``ContextVar``, so threads and asyncio tasks each see their own.
"""

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy in front of us chose is kept if it looks like one; anything else is
# replaced, so a client cannot write arbitrary text into the trail.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None


_current: ContextVar[RequestContext] = ContextVar(
    "audit_request_context",
    default=RequestContext(),  # noqa: B039  frozen: shared safely
)


def current() -> RequestContext:
    return _current.get()


def bind(context: RequestContext):
    """Makes ``context`` current; returns the token that ``unbind`` restores with."""
    return _current.set(context)


def unbind(token) -> None:
    _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives every request an id (echoed in ``X-Request-ID``) and notes its client IP.

    The IP is ``REMOTE_ADDR``: behind a proxy, configure the proxy (not this code) to
    set it, so a client's own header cannot choose what the trail records.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _ACCEPTABLE_ID.match(offered) else new_request_id()
        request.request_id = request_id
        token = bind(
            RequestContext(request_id=request_id, ip_address=request.META.get("REMOTE_ADDR"))
        )
        try:
            response = self.get_response(request)
        finally:
            unbind(token)
        response[REQUEST_ID_HEADER] = request_id
        return response
