"""DropTurk: the Django project (settings, the Celery app, URL routing)."""

from dropturk.celery import app as celery_app

__all__ = ("celery_app",)
