"""The model page: versions compared, retraining started and followed, promotion.

ML engineers and admins see it (admins read only); anyone else gets 404. Promotion asks
for the password (or second factor) again, as exports do.
"""

from __future__ import annotations

import itertools
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import require_recent_auth
from ocr_bridge import charts, learning, selectors
from ocr_bridge.evaluation import BAND_EDGES
from ocr_bridge.models import ModelStatus, ModelVersion
from ocr_bridge.weights import active_version

COMPARED = 4  # evaluated versions shown side by side (the active one always among them)


def _role_only(check):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _compared(versions: list[ModelVersion], active: ModelVersion) -> list[ModelVersion]:
    evaluated = [v for v in versions if v.metrics.get("frozen") and v.pk != active.pk]
    return [active, *evaluated[: COMPARED - 1]]


def _kind_rows(compared: list[ModelVersion]) -> list[dict[str, Any]]:
    kinds = sorted({k for v in compared for k in v.metrics.get("frozen", {}).get("by_kind", {})})
    return [
        {
            "kind": kind,
            "cells": [v.metrics.get("frozen", {}).get("by_kind", {}).get(kind) for v in compared],
        }
        for kind in kinds
    ]


def _band_rows(compared: list[ModelVersion]) -> list[dict[str, Any]]:
    rows = []
    for index, (low, high) in enumerate(itertools.pairwise(BAND_EDGES)):
        cells = []
        for version in compared:
            bands = version.metrics.get("frozen", {}).get("by_band", [])
            cells.append(bands[index] if index < len(bands) else None)
        rows.append({"low": low, "high": high, "cells": cells})
    return rows


def _lineage(version: ModelVersion) -> list[ModelVersion]:
    chain, seen = [], set()
    while version is not None and version.pk not in seen:
        chain.append(version)
        seen.add(version.pk)
        version = version.parent
    return chain


@_role_only(selectors.can_view_models)
@require_http_methods(["GET"])
def models_page(request):
    active = active_version()
    learning.model_versions_fail_stalled()
    versions = list(selectors.model_versions()[:50])
    active = next((v for v in versions if v.pk == active.pk), active)
    compared = _compared(versions, active)
    running = next((v for v in versions if v.is_running), None)
    reliability = charts.reliability_svg(
        [(v.name, v.metrics["frozen"]["reliability"]) for v in compared if v.metrics.get("frozen")]
    )
    context = {
        "active": active,
        "versions": versions,
        "compared": compared,
        "kind_rows": _kind_rows(compared),
        "band_rows": _band_rows(compared),
        "reliability_svg": reliability,
        "has_reliability": any(v.metrics.get("frozen") for v in compared),
        "running": running,
        "lineage": _lineage(versions[0]) if versions else [],
        "can_train": selectors.can_train_models(request.user),
        "defaults": learning.RetrainOptions(),
        "promotable": {ModelStatus.READY, ModelStatus.RETIRED},
    }
    return render(request, "ocr_bridge/models.html", context)


@_role_only(selectors.can_train_models)
@require_POST
def model_retrain(request):
    steps = request.POST.get("steps", "").strip()
    try:
        options = learning.RetrainOptions.from_dict({"steps": int(steps)} if steps else {})
        learning.model_retrain_request(user=request.user, options=options)
    except ValueError:
        messages.error(request, "Steps must be a whole number.")
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    except learning.RetrainConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Retraining started; this page follows its progress.")
    return redirect("models:page")


@_role_only(selectors.can_train_models)
@require_POST
@require_recent_auth
def model_promote(request, version_id: int):
    if selectors.model_get(version_id=version_id) is None:
        raise Http404
    try:
        version = learning.model_promote(version_id=version_id, user=request.user)
    except learning.PromotionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{version.name} is the active model; unlabeled crops are being read again."
        )
    return redirect("models:page")
