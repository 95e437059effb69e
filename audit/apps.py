from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun

        from audit import receivers

        task_prerun.connect(receivers.task_started, dispatch_uid="audit-task-context")
        task_postrun.connect(receivers.task_finished, dispatch_uid="audit-task-context")
        receivers.audit_admin_log()
