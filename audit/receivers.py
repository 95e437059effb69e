"""Signal receivers that feed the trail from outside our own services.

- Celery tasks get a request context (their task id), as HTTP requests do.
- Every Django admin change (each ``LogEntry`` the admin writes, in the transaction of
  the change) becomes an audit event too, so the admin is no unaudited side door.
"""

from audit import context
from audit.services import record

_tokens: dict[str, object] = {}

_ADMIN_ACTIONS = {1: "admin.object_add", 2: "admin.object_change", 3: "admin.object_delete"}


def task_started(task_id=None, task=None, **kwargs) -> None:
    _tokens[task_id] = context.bind(context.RequestContext(request_id=f"task-{task_id}"))


def task_finished(task_id=None, **kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        context.unbind(token)


def _record_admin_entry(entry) -> None:
    content_type = entry.content_type
    record(
        actor=entry.user,
        action=_ADMIN_ACTIONS.get(entry.action_flag, "admin.object_change"),
        target_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
        target_id=entry.object_id or "",
        data={"object": entry.object_repr[:200], "change": entry.get_change_message()[:500]},
    )


def audit_admin_log() -> None:
    """Every ``LogEntry`` the admin writes also becomes an audit event, in its transaction.

    The admin writes them through ``LogEntryManager.log_actions`` (one object, or a bulk
    insert for "delete selected", which sends no ``post_save``), so that is where we hook.
    """
    from django.contrib.admin.models import LogEntryManager

    original = LogEntryManager.log_actions
    if getattr(original, "audited", False):
        return

    def log_actions(
        self, user_id, queryset, action_flag, change_message="", *, single_object=False
    ):
        result = original(
            self, user_id, queryset, action_flag, change_message, single_object=single_object
        )
        for entry in [result] if single_object else result:
            _record_admin_entry(entry)
        return result

    log_actions.audited = True
    LogEntryManager.log_actions = log_actions
