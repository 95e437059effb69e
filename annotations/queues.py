"""The labeling queue's rules, each written once: which tasks an annotator may hold, the
serving order, the begun crops' window, what "free" means; and the queues as the ORM
reads them. ``annotations/loop_sql.py`` builds PostgreSQL's one-statement lease from the
same rules.
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from annotations.models import Label, Skip, Task, TaskStatus

# Task states an annotator can hold a lease on: open tasks and gold items.
LEASABLE = (TaskStatus.OPEN, TaskStatus.GOLD)
# The serving order of every queue: priority first, then the least confident prefill (the
# crops the model is least sure of teach it most), then age (``task_queue_idx``,
# ``task_pending_idx``).
QUEUE_ORDER = ("-priority", "confidence", "id")
# Begun crops: open tasks that have labels and want more (``task_pending_idx``).
PENDING = Q(status=TaskStatus.OPEN, labels_count__gt=0)
# Crops nobody labeled yet (``task_queue_idx``).
FRESH = Q(status=TaskStatus.OPEN, labels_count=0)
# How far down the pending queue a lease looks. Its head can hold many tasks the caller
# labeled (a lone annotator's low-band crops wait there for a second person): an unbounded
# walk would pass over all of them at every lease. Beyond the window a lease serves fresh
# crops; the pending ones are served as the window's head is labeled by others.
PENDING_WINDOW = 100


def task_available(now: datetime) -> Q:
    """Nobody holds the task, or its holder's lease ran out."""
    return Q(leased_to__isnull=True) | Q(lease_expires_at__lt=now)


def task_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Open tasks nobody labeled yet that ``user`` (a user or their id) may be offered,
    in ``QUEUE_ORDER``.

    Walks the partial index ``task_queue_idx`` in order and stops at the LIMIT the caller
    applies; it never scans all open rows. A task the user skipped is passed over (an
    index probe of ``skip_unique_task_annotator``; the label probe,
    ``label_task_annotator_idx``, matters for ``pending_queue``).
    """
    return (
        Task.objects.filter(FRESH)
        .filter(task_available(now))
        .filter(_not_passed_by(user))
        .order_by(*QUEUE_ORDER)
    )


def pending_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Begun crops (``PENDING``) among the first ``PENDING_WINDOW`` of them, which ``user``
    neither labeled nor skipped, in ``QUEUE_ORDER``: the k labels of a crop come from k
    different people. These are served before fresh ones, so that begun crops are
    finished first.
    """
    window = Task.objects.filter(PENDING).order_by(*QUEUE_ORDER).values("id")[:PENDING_WINDOW]
    return (
        Task.objects.filter(PENDING, id__in=window)
        .filter(task_available(now))
        .filter(_not_passed_by(user))
        .order_by(*QUEUE_ORDER)
    )


def gold_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Gold items ``user`` has never answered (nor labeled, nor skipped), free to lease.

    Walks the partial index ``task_gold_idx``: as many rows as there are gold items at
    most, whatever the length of the labeling queue.
    """
    return (
        Task.objects.filter(status=TaskStatus.GOLD)
        .filter(task_available(now))
        .filter(_not_passed_by(user))
        .order_by("id")
    )


def _not_passed_by(user) -> Q:
    """Neither skipped nor labeled by ``user``: per candidate row, a probe of
    ``skip_unique_task_annotator`` and one of ``label_task_annotator_idx``."""
    return ~Exists(Skip.objects.filter(task=OuterRef("pk"), annotator=user)) & ~Exists(
        Label.objects.filter(task=OuterRef("pk"), annotator=user)
    )
