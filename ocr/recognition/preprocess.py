"""Crop → network input, the same in training and inference.

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


def normalize(gray: np.ndarray) -> np.ndarray:
    """float32 (32, W) in [-1, 1], dark ink on a light ground."""
    height, width = gray.shape
    if height == 0 or width == 0:
        return np.ones((INPUT_HEIGHT, MIN_WIDTH), np.float32)
    low, median, high = np.percentile(gray, (2, 50, 98))
    pixels = gray.astype(np.float32)
    if median < (low + high) / 2:  # the ground is the darker part: light print
        pixels = 255.0 - pixels
        low, high = 255.0 - high, 255.0 - low
    pixels = (pixels - low) / max(float(high - low), 16.0)
    new_width = int(np.clip(round(width * INPUT_HEIGHT / height), MIN_WIDTH, MAX_WIDTH))
    interpolation = cv2.INTER_AREA if height > INPUT_HEIGHT else cv2.INTER_LINEAR
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
