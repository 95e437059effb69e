"""The learning loop's writes: retrain from accepted labels, register, promote, re-prefill.

Retraining fine-tunes the ACTIVE model on the accepted labels outside the frozen test
split, mixing synthetic words into every batch against forgetting, evaluates the new
model and its parent on the same frozen-split crops and gold items, and registers the
version with its metrics, config, duration and lineage. Crops are decrypted into memory
only; the weights are stored encrypted (`ocr_bridge.weights`). A version is promoted by
an ML engineer, or automatically when it beats its parent by ``MODEL_AUTO_PROMOTE_MARGIN``
on the frozen split; then the unlabeled crops are read again in the background, the
least confident first, in batches.

One module per step: ``options`` (what a run may be asked), ``requests`` (asking, one
at a time; failing), ``crops`` (the labeled crops, decrypted), ``evaluate`` (a model
measured), ``retrain`` (a run, step by step), ``promotion``, ``reprefill``. Callers
import the entry points from here.
"""

from ocr_bridge.learning.crops import CropImages, crops_read
from ocr_bridge.learning.evaluate import model_evaluate
from ocr_bridge.learning.options import RetrainOptions
from ocr_bridge.learning.promotion import PromotionRefused, auto_promotion_due, model_promote
from ocr_bridge.learning.reprefill import crops_reprefill_batch
from ocr_bridge.learning.requests import (
    STALLED_AFTER,
    RetrainConflict,
    model_fail,
    model_retrain_request,
    model_versions_fail_stalled,
)
from ocr_bridge.learning.retrain import model_retrain

__all__ = [
    "STALLED_AFTER",
    "CropImages",
    "PromotionRefused",
    "RetrainConflict",
    "RetrainOptions",
    "auto_promotion_due",
    "crops_read",
    "crops_reprefill_batch",
    "model_evaluate",
    "model_fail",
    "model_promote",
    "model_retrain",
    "model_retrain_request",
    "model_versions_fail_stalled",
]
