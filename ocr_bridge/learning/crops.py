"""The labeled crops a retraining reads: decrypted into memory, one donation key at a
time, and the crops flagged rotated turned upright."""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from annotations import blobs
from annotations.models import Donation, DonationStatus
from ocr_bridge.learning.evaluate import read_with
from ocr_bridge.selectors import LabelledCropRef


@dataclass
class CropImages:
    """Decrypted crops (gray, in memory) with their references, in the same order."""

    refs: list[LabelledCropRef]
    images: list[np.ndarray]
    documents: set[str]


def crops_read(refs: Sequence[LabelledCropRef]) -> CropImages:
    """Decrypts the crops, one donation key at a time; a crop whose donation was
    withdrawn meanwhile (key destroyed) is left out."""
    by_donation: dict[str, list[LabelledCropRef]] = defaultdict(list)
    for ref in refs:
        by_donation[ref.donation_id].append(ref)
    from ocr.recognition.preprocess import to_gray

    donations = Donation.objects.in_bulk(list(by_donation))
    kept: list[LabelledCropRef] = []
    images: list[np.ndarray] = []
    for donation_id, group in by_donation.items():
        donation = donations.get(uuid.UUID(donation_id))
        if donation is None or donation.status == DonationStatus.WITHDRAWN:
            continue
        try:
            key = blobs.data_key_for(donation)
        except blobs.KeyDestroyed:
            continue
        for ref in group:
            plain = blobs.blob_get(donation=donation, name=ref.image_name, data_key=key)
            with Image.open(io.BytesIO(plain)) as image:
                images.append(to_gray(image).copy())
            kept.append(ref)
    return CropImages(refs=kept, images=images, documents={r.donation_id for r in kept})


def limit_documents(refs: list[LabelledCropRef], max_labels: int) -> list[LabelledCropRef]:
    """The first documents' labels (whole documents, in donation id order) up to N."""
    if not max_labels or len(refs) <= max_labels:
        return refs
    kept: list[LabelledCropRef] = []
    for ref in refs:
        if len(kept) >= max_labels and ref.donation_id != kept[-1].donation_id:
            break
        kept.append(ref)
    return kept


def upright_rotated(crops: CropImages, parent_weights: bytes) -> tuple[CropImages, list, list]:
    """Crops flagged rotated, turned upright by the quarter turn under which the parent
    reads their accepted text best; returns the crops for the recognizer and, for the
    orientation classifier, the flagged crops with the turn found."""
    from rapidfuzz.distance import Levenshtein

    from ocr.orientation.data import turn
    from ocr.recognition.metrics import normalize_text

    keep_refs, keep_images, turned_images, turns = [], [], [], []
    flagged = [i for i, ref in enumerate(crops.refs) if ref.rotated]
    candidates = [turn(crops.images[i], -q) for i in flagged for q in range(4)]
    readings = read_with(parent_weights, candidates) if candidates else []
    best_turn: dict[int, int] = {}
    for n, index in enumerate(flagged):
        truth = normalize_text(crops.refs[index].text, fold_case=True)
        distances = [
            Levenshtein.normalized_distance(
                normalize_text(readings[4 * n + q].text, fold_case=True), truth
            )
            for q in range(4)
        ]
        quarter = int(np.argmin(distances))
        if distances[quarter] <= 0.34:
            best_turn[index] = quarter
    for index, (ref, image) in enumerate(zip(crops.refs, crops.images, strict=True)):
        if not ref.rotated:
            keep_refs.append(ref)
            keep_images.append(image)
        elif index in best_turn:
            keep_refs.append(ref)
            keep_images.append(turn(image, -best_turn[index]))
            turned_images.append(image)
            turns.append(best_turn[index])
    return CropImages(keep_refs, keep_images, crops.documents), turned_images, turns
