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
# Until a retraining has run here: seconds per training sample (one thread) and the fixed
# part (loading, measuring on the frozen split). Rough; the page says so.
FALLBACK_SECONDS_PER_SAMPLE = 0.005
FIXED_SECONDS = 30.0
# The options the page offers, with how a form field becomes the option's value.
FORM_OPTIONS = {
    "steps": int,
    "batch_size": int,
    "learning_rate": float,
    "synthetic_share": float,
    "max_labels": int,
}


def regression(version: ModelVersion, active: ModelVersion) -> dict[str, Any] | None:
    """How the version is worse than the active model on the frozen split, or None.

    Compared on the very same crops when the active model is its parent (the retraining
    measured both), else with the active model's own measurement."""
    mine = version.metrics.get("frozen") or {}
    parent = version.metrics.get("parent") or {}
    if parent.get("name") == active.name and parent.get("frozen"):
        theirs = parent["frozen"]
    else:
        theirs = active.metrics.get("frozen") or {}
    if version.pk == active.pk or mine.get("accuracy") is None or theirs.get("accuracy") is None:
        return None
    worse_accuracy = mine["accuracy"] < theirs["accuracy"]
    worse_cer = (mine.get("cer") or 0) > (theirs.get("cer") or 0)
    if not (worse_accuracy or worse_cer):
        return None
    return {
        "active": active.name,
        "accuracy": mine["accuracy"],
        "active_accuracy": theirs["accuracy"],
        "accuracy_drop": theirs["accuracy"] - mine["accuracy"],
        "cer": mine.get("cer"),
        "active_cer": theirs.get("cer"),
        "n": mine.get("n"),
    }


def seconds_per_sample(versions: list[ModelVersion]) -> tuple[float, int]:
    """Training seconds per sample, from the retrainings that finished here (median), and
    how many it is taken from (0: the fallback figure)."""
    rates = sorted(
        (v.duration_seconds - FIXED_SECONDS)
        / (v.config.get("steps", 0) * v.config.get("batch_size", 0))
        for v in versions
        if not v.builtin
        and v.duration_seconds
        and v.duration_seconds > FIXED_SECONDS
        and v.config.get("steps")
        and v.config.get("batch_size")
    )
    if not rates:
        return FALLBACK_SECONDS_PER_SAMPLE, 0
    return rates[len(rates) // 2], len(rates)


def estimate_seconds(options: learning.RetrainOptions, per_sample: float) -> float:
    return FIXED_SECONDS + options.steps * options.batch_size * per_sample / options.threads


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
    per_sample, measured_runs = seconds_per_sample(versions)
    defaults = learning.RetrainOptions()
    for version in versions:
        version.regression = regression(version, active)
    reliability = charts.reliability_svg(
        [
            (v.name, v.metrics["frozen"].get("reliability", []))
            for v in compared
            if v.metrics.get("frozen")
        ]
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
        "defaults": defaults,
        "per_thousand_steps": 1000 * defaults.batch_size * per_sample / defaults.threads,
        "measured_runs": measured_runs,
        "estimate_seconds": estimate_seconds(defaults, per_sample),
        "promotable": {ModelStatus.READY, ModelStatus.RETIRED},
    }
    return render(request, "ocr_bridge/models.html", context)


@_role_only(selectors.can_train_models)
@require_POST
def model_retrain(request):
    chosen: dict[str, Any] = {}
    bad_value = "Each option must be a number."
    try:
        for name, number in FORM_OPTIONS.items():
            value = request.POST.get(name, "").strip()
            if value:
                kind = "a whole number" if number is int else "a number"
                bad_value = f"{name.replace('_', ' ').capitalize()} must be {kind}."
                chosen[name] = number(value)
        if "freeze_features" in request.POST:
            chosen["freeze_features"] = True
        options = learning.RetrainOptions.from_dict(chosen)
        learning.model_retrain_request(user=request.user, options=options)
    except ValueError:
        messages.error(request, bad_value)
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
    """Promotes; a model worse than the active one on the frozen split is promoted only
    after a confirmation that shows by how much."""
    candidate = selectors.model_get(version_id=version_id)
    if candidate is None:
        raise Http404
    worse = regression(candidate, active_version())
    if worse and request.POST.get("confirm_regression") != candidate.name:
        return render(
            request,
            "ocr_bridge/promote_confirm.html",
            {"version": candidate, "regression": worse},
            status=409,
        )
    try:
        version = learning.model_promote(version_id=version_id, user=request.user)
    except learning.PromotionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{version.name} is the active model; unlabeled crops are being read again."
        )
    return redirect("models:page")
