"""Pages of label quality: the review queue, the metrics page, detector feedback.

Anyone outside a page's roles gets 404, as for every page outside a role's work.
"""

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from annotations import roles
from quality import charts, selectors

METRICS_ROLES = (roles.REVIEWER, roles.ADMIN)
FEEDBACK_ROLES = (roles.ML_ENGINEER, roles.REVIEWER)


def for_roles(*allowed: str) -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not any(roles.has_role(request.user, role) for role in allowed):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@for_roles(roles.REVIEWER)
def review_page(request):
    """The reviewer's workspace; the loop runs in the browser (frontend/review/)."""
    return render(request, "quality/review.html")


@for_roles(*METRICS_ROLES)
def metrics_page(request):
    now = timezone.now()
    per_hour = selectors.labels_per_hour(now=now)
    agreement = selectors.agreement_per_day(now=now)
    kept = selectors.prefill_kept(since=now - timedelta(days=30))
    bands = list(range(len(selectors.BAND_EDGES) + 1))
    snapshots = list(selectors.queue_depth(now=now))

    def kept_share(band: int, shown: bool) -> float | None:
        kept_n, n = kept.get((band, shown), (0, 0))
        return kept_n / n if n else None

    context = {
        "labels_chart": charts.bar_chart(
            title="Labels per hour, last 48 hours",
            labels=[f"{hour:%H}h" for hour, _ in per_hour],
            series=[charts.Series("labels", [n for _, n in per_hour])],
        ),
        "labels_last_hour": per_hour[-1][1] if per_hour else 0,
        "agreement_chart": charts.line_chart(
            title="Agreement among annotators, per day",
            labels=[f"{day:%d %b}" for day, _ in agreement],
            series=[charts.Series("agreement", [share for _, share in agreement])],
            percent=True,
        ),
        "kept_chart": charts.bar_chart(
            title="Prefill kept unchanged, per confidence band",
            labels=[selectors.band_name(band) for band in bands],
            series=[
                charts.Series("prefill shown", [kept_share(band, True) for band in bands]),
                charts.Series("blind", [kept_share(band, False) for band in bands]),
            ],
            percent=True,
        ),
        "kept_rows": [
            {
                "band": selectors.band_name(band),
                "shown": kept.get((band, True), (0, 0)),
                "blind": kept.get((band, False), (0, 0)),
            }
            for band in bands
        ],
        "queue_chart": charts.line_chart(
            title="Queue depth over the last 7 days",
            labels=[f"{snap.taken_at:%d %b %H:%M}" for snap in snapshots],
            series=[
                charts.Series("open tasks", [snap.open_tasks for snap in snapshots]),
                charts.Series("needs review", [snap.needs_review for snap in snapshots]),
            ],
        ),
        "annotators": selectors.annotator_table(),
        "settings": selectors.quality_settings(),
    }
    return render(request, "quality/metrics.html", context)


@for_roles(*FEEDBACK_ROLES)
def detector_feedback_page(request):
    return render(
        request,
        "quality/detector_feedback.html",
        {"feedback": selectors.detector_feedback()},
    )
