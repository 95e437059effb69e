"""Procedural surfaces for text to lie on: paper, thermal paper, wood, marble, countertop.

Photos of receipts show the table under them and crops cut loosely show that surface, so
the recognizer sees it in training. All grayscale, since the model reads gray crops.
"""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Noise in [-1, 1] that varies over about `cell` pixels (upsampled random grid)."""
    grid = rng.uniform(-1, 1, (height // cell + 2, width // cell + 2)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def paper(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    level = rng.uniform(235, 255) if rng.random() < 0.6 else rng.uniform(185, 245)
    surface = level + smooth_noise(rng, height, width, max(8, width // 3)) * rng.uniform(0, 12)
    return surface + rng.normal(0, rng.uniform(0, 4), (height, width))


def wood(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    warp = smooth_noise(rng, height, width, 24) * rng.uniform(4, 15)
    angle = rng.uniform(0, np.pi)
    rings = np.sin((xs * np.cos(angle) + ys * np.sin(angle) + warp) * rng.uniform(0.15, 0.5))
    return rng.uniform(90, 170) + rings * rng.uniform(8, 25)


def marble(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    xs = np.arange(width, dtype=np.float32)[None, :]
    turbulence = smooth_noise(rng, height, width, 16) + 0.5 * smooth_noise(rng, height, width, 6)
    veins = np.abs(np.sin(xs * rng.uniform(0.02, 0.08) + turbulence * rng.uniform(2, 5)))
    return rng.uniform(170, 235) - (1 - veins) ** 6 * rng.uniform(20, 70)


def countertop(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    base = rng.uniform(60, 200)
    speckles = (rng.random((height, width)) < rng.uniform(0.02, 0.1)) * rng.uniform(-60, 60)
    blurred = cv2.GaussianBlur(speckles.astype(np.float32), (3, 3), 0)
    return base + blurred + smooth_noise(rng, height, width, 20) * 8


SURFACES = {"paper": (paper, 0.88), "wood": (wood, 0.04), "marble": (marble, 0.04)}
SURFACES["countertop"] = (countertop, 0.04)


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float32 surface of that size, mostly paper; values roughly in [0, 255]."""
    names = list(SURFACES)
    weights = np.array([SURFACES[name][1] for name in names])
    name = names[rng.choice(len(names), p=weights / weights.sum())]
    return SURFACES[name][0](rng, height, width).astype(np.float32)
