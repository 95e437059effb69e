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


def admin_log_entry_saved(sender, instance, created: bool, **kwargs) -> None:
    if not created:
        return
    content_type = instance.content_type
    record(
        actor=instance.user,
        action=_ADMIN_ACTIONS.get(instance.action_flag, "admin.object_change"),
        target_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
        target_id=instance.object_id or "",
        data={"object": instance.object_repr[:200], "change": instance.get_change_message()[:500]},
    )
