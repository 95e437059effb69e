"""The one Celery app. Queue routing lives here and nowhere else.

Tasks are routed by name, so a module can enqueue another app's task with
``send_task("ocr_bridge.detect_words", ...)`` without importing it (keeps
``annotations`` free of an import of ``ocr_bridge``).
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dropturk.settings")

app = Celery("dropturk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

QUEUES = ("ocr", "training", "default")

app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "ocr_bridge.detect_words": {"queue": "ocr"},
    "ocr_bridge.prefill_crops": {"queue": "ocr"},
    "ocr_bridge.recut_donation": {"queue": "ocr"},
    "ocr_bridge.reprefill_crops": {"queue": "ocr"},
    "ocr_bridge.retrain*": {"queue": "training"},
    "ocr_bridge.evaluate*": {"queue": "training"},
}
