"""Crop → network input, the same in training and inference (real crops, read or
fine-tuned on, are first cut down to their ink: ``cut_to_ink``).

Gray, dark print on light (light-on-dark crops are inverted), contrast stretched between
the 2nd and 98th percentiles, height 32, width scaled with it. A batch is padded on the
right with each crop's own background level, so padding looks like more paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from PIL import Image

from ocr.recognition.model import INPUT_HEIGHT, WIDTH_STRIDE

MIN_WIDTH = 16
MAX_WIDTH = 480  # wider crops are squeezed: a long phrase still fits its frames


def to_gray(crop: Image.Image | np.ndarray) -> np.ndarray:
    """uint8 H × W; transparent pixels count as white paper."""
    if isinstance(crop, np.ndarray):
        return crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if crop.mode in ("RGBA", "LA", "PA") or (crop.mode == "P" and "transparency" in crop.info):
        rgba = crop.convert("RGBA")
        crop = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.asarray(crop.convert("L"))


# Reading cuts a crop down to its ink first (see cut_to_ink).
INK_MARGIN = 0.06  # of the ink's height, on every side (at least one pixel)
INK_MIN_CONTRAST = 48  # gray levels between the 2nd and 98th percentiles
INK_MIN_SHARE = 0.3  # of the crop's height and width, below which ink is a sliver
_INK_LEVELS = np.array([0.02, 0.5, 0.98])


def cut_to_ink(gray: np.ndarray) -> np.ndarray:
    """The crop cut down to its ink (Otsu's threshold), with a thin margin.

    How loosely a box was cut then matters little: the word detector pads its boxes,
    which cost the recognizer accuracy on real words read uncut; cut to the ink, such
    crops read as well as tight ones, and tight form words read better too
    (docs/benchmarks.md has the figures). Real crops are always
    cut (reading, fine-tuning); synthetic training words only when a run asks
    (`SyntheticWords(cut=True)`): the shipped weights learnt them uncut, tight and loose.

    Left as it is (and so are crops that are not 8-bit gray) when there is too little
    contrast to tell ink from paper, or when the ink is a sliver (under 30% of the crop's
    height or width): specks and the edge of a neighbour's letter, which is what empty
    crops show.
    """
    height, width = gray.shape
    if height == 0 or width == 0 or gray.dtype != np.uint8:
        return gray
    # The 2nd, 50th and 98th percentiles from the histogram: a third of np.percentile's time.
    cumulative = np.bincount(gray.ravel(), minlength=256).cumsum()
    low, median, high = np.searchsorted(cumulative, cumulative[-1] * _INK_LEVELS).tolist()
    if high - low < INK_MIN_CONTRAST:
        return gray
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if median < (low + high) / 2:  # light print on a dark ground
        ink = 1 - ink
    rows = np.flatnonzero(ink.any(axis=1))
    columns = np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0 or len(columns) == 0:
        return gray
    ink_height = rows[-1] + 1 - rows[0]
    ink_width = columns[-1] + 1 - columns[0]
    if ink_height < INK_MIN_SHARE * height or ink_width < INK_MIN_SHARE * width:
        return gray
    margin = max(1, round(INK_MARGIN * ink_height))
    top, bottom = max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)
    left, right = max(0, columns[0] - margin), min(width, columns[-1] + 1 + margin)
    return gray[top:bottom, left:right]


# Ways to enlarge a crop lower than the input. Lanczos keeps the edges of small scanned
# type (8-16 pixels high) sharper than linear interpolation does.
UPSCALE = {"linear": cv2.INTER_LINEAR, "lanczos": cv2.INTER_LANCZOS4}


def percentiles(gray: np.ndarray, qs: Sequence[float]) -> list[float]:
    """`np.percentile(gray, qs)` (linear interpolation), for uint8 crops read off the
    histogram: the same values, several times faster on the small crops a page holds."""
    if gray.dtype != np.uint8:
        return [float(v) for v in np.percentile(gray, qs)]
    cumulative = np.bincount(gray.ravel(), minlength=256).cumsum()
    last = gray.size - 1
    values = []
    for q in qs:
        position = last * q / 100.0
        below = int(np.floor(position))
        above = min(below + 1, last)
        low, high = np.searchsorted(cumulative, (below, above), side="right").tolist()
        values.append(low + (position - below) * (high - low))
    return values


def normalize(gray: np.ndarray, *, upscale: str = "linear") -> np.ndarray:
    """float32 (32, W) in [-1, 1], dark ink on a light ground; crops lower than that are
    enlarged with `upscale` (a key of `UPSCALE`: the model's, `CrnnConfig.upscale`)."""
    height, width = gray.shape
    if height == 0 or width == 0:
        return np.ones((INPUT_HEIGHT, MIN_WIDTH), np.float32)
    low, median, high = percentiles(gray, (2, 50, 98))
    pixels = gray.astype(np.float32)
    if median < (low + high) / 2:  # the ground is the darker part: light print
        pixels = 255.0 - pixels
        low, high = 255.0 - high, 255.0 - low
    pixels = (pixels - low) / max(float(high - low), 16.0)
    new_width = int(np.clip(round(width * INPUT_HEIGHT / height), MIN_WIDTH, MAX_WIDTH))
    interpolation = cv2.INTER_AREA if height > INPUT_HEIGHT else UPSCALE[upscale]
    resized = cv2.resize(pixels, (new_width, INPUT_HEIGHT), interpolation=interpolation)
    return np.clip(resized, 0.0, 1.0) * 2.0 - 1.0


def batch_tensor(inputs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, 32, W) padded to a multiple of the stride, and each crop's frame count."""
    widest = max(item.shape[1] for item in inputs)
    widest = -(-widest // WIDTH_STRIDE) * WIDTH_STRIDE
    batch = np.empty((len(inputs), 1, INPUT_HEIGHT, widest), np.float32)
    for i, item in enumerate(inputs):
        batch[i, 0, :, : item.shape[1]] = item
        batch[i, 0, :, item.shape[1] :] = np.median(item[:, -2:]) if item.size else 1.0
    frames = torch.tensor([-(-item.shape[1] // WIDTH_STRIDE) for item in inputs])
    return torch.from_numpy(batch), frames
