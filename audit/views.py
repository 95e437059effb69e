"""The admin's pages of the audit trail: the event list, an event, an object's history,
and the export.

Admins only: anyone else signed in gets 404 (the pages do not admit they exist), and an
anonymous caller is sent to sign in; the MFA gate (``accounts.middleware``) runs first.
Looking at the pages records no audit events of its own (they show the trail; reading
it is not an act on donated data); exporting does, as ``audit.events_export``, since the
file leaves the platform.
"""

import json
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

import audit
from accounts import access
from accounts.decorators import require_recent_auth
from audit import export, selectors
from audit.actions import describe
from audit.forms import EventFilterForm
from audit.models import ActorType, AuditEvent

# How the pages name the kinds of target whose history they link to.
TARGET_NAMES = {
    "annotations.donation": "donation",
    "annotations.wordcrop": "word crop",
    "annotations.label": "label",
    "annotations.task": "labeling task",
    "annotations.servicetoken": "service token",  # before tokens moved to accounts
    "accounts.servicetoken": "service token",
}


def admin_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.is_signed_in(request):
            return redirect_to_login(request.get_full_path())
        if not access.is_admin(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        raise Http404
    return int(value)


def target_name(target_type: str) -> str:
    if target_type == selectors.user_target_type():
        return "person"
    return TARGET_NAMES.get(target_type, target_type)


def history_url(target_type: str, target_id: str) -> str:
    return reverse("audit:history", args=[target_type, target_id])


def actor_url(event: AuditEvent) -> str:
    if event.actor_type == ActorType.USER and event.actor_id:
        return history_url(selectors.user_target_type(), event.actor_id)
    params = {"actor_type": event.actor_type, "actor_id": event.actor_id}
    return f"{reverse('audit:events')}?{urlencode({k: v for k, v in params.items() if v})}"


def _row(event: AuditEvent) -> dict:
    return {
        "event": event,
        "text": describe(event.action, target_id=event.target_id, data=event.data),
        "actor_url": actor_url(event),
        "target_url": history_url(event.target_type, event.target_id)
        if event.target_type and event.target_id
        else "",
    }


def _list(request, *, subject_type: str = "", subject_id: str = ""):
    data = request.GET.copy()
    if subject_type:
        data["subject_type"], data["subject_id"] = subject_type, subject_id
    form = EventFilterForm(data)
    page = None
    params = {}
    if form.is_valid():
        filters = form.filters()
        page = selectors.event_page(
            filters=filters, before=_cursor(request, "before"), after=_cursor(request, "after")
        )
        params = filters.as_params()
        params.pop("subject_type", None)
        params.pop("subject_id", None)
    query = urlencode(params)
    export_query = urlencode(
        {**params, "subject_type": subject_type, "subject_id": subject_id}
        if subject_type
        else params
    )
    return render(
        request,
        "audit/event_list.html",
        {
            "form": form,
            "rows": [_row(event) for event in page.events] if page else [],
            "page": page,
            "query": query,
            "export_query": export_query,
            "subject": {"type": subject_type, "id": subject_id, "name": target_name(subject_type)}
            if subject_type
            else None,
        },
        status=200 if page else 400,
    )


@admin_only
def event_list(request):
    """Events newest first, filtered, 50 a page (keyset on id)."""
    return _list(request)


@admin_only
def history(request, target_type: str, target_id: str):
    """Everything that happened to one object (for a person: also all they did)."""
    return _list(request, subject_type=target_type, subject_id=target_id)


@admin_only
def event_detail(request, event_id: int):
    event = get_object_or_404(AuditEvent, pk=event_id)
    request_url = ""
    if event.request_id:
        request_url = f"{reverse('audit:events')}?{urlencode({'request_id': event.request_id})}"
    return render(
        request,
        "audit/event_detail.html",
        {
            **_row(event),
            "data_json": json.dumps(event.data, indent=2, sort_keys=True, ensure_ascii=False),
            "sealed": event.seq is not None,
            "target_kind": target_name(event.target_type),
            "request_url": request_url,
        },
    )


@admin_only
@require_recent_auth
def event_export(request, fmt: str):
    """The filtered events as a file, streamed: every match, newest first.

    The export is recorded before the first row is sent, and covers the events older
    than its own record.
    """
    form = EventFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    filters = form.filters()
    recorded = audit.record(
        actor=request.user,
        action="audit.events_export",
        data={"format": fmt, "filters": filters.as_params()},
    )
    events = selectors.events_iter(filters=filters, before=recorded.id)
    response = StreamingHttpResponse(
        export.stream(events, fmt=fmt), content_type=export.FORMATS[fmt]
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.{fmt}"'
    return response
