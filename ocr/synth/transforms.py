"""Degradations that make a clean rendering look printed, scanned or photographed.

Geometric transforms act on the ink mask (so the crop can be cut around the moved ink);
photometric ones act on the composed gray image. Each takes a numpy Generator, so the
whole chain replays from one seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from ocr.synth.backgrounds import smooth_noise


def _border_value(image: np.ndarray) -> float:
    return float(np.median(np.concatenate((image[0], image[-1]))))


def affine(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Small rotation and shear (italic-like slant), the size kept."""
    height, width = mask.shape
    angle = rng.normal(0, 1.2)
    shear = rng.normal(0, 0.12)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[0, 1] += shear
    matrix[0, 2] -= shear * height / 2
    return cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)


def perspective(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """A photo taken a little off-axis: each corner moved by up to 8% of the height."""
    height, width = mask.shape
    jitter = 0.08 * height
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    target = source + rng.uniform(-jitter, jitter, source.shape).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(mask, matrix, (width, height), borderValue=0)


def curl(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Paper that bends: rows shift along a slow sine across the word."""
    height, width = mask.shape
    amplitude = rng.uniform(0.5, 0.08 * height + 0.5)
    period = rng.uniform(1.0, 3.0) * width
    phase = rng.uniform(0, 2 * np.pi)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    shift = (amplitude * np.sin(2 * np.pi * xs / period + phase)).astype(np.float32)
    return cv2.remap(mask, xs, ys + shift, cv2.INTER_LINEAR, borderValue=0)


def dot_matrix(rng: np.random.Generator, mask: np.ndarray, pitch: float) -> np.ndarray:
    """Disconnected-segment printing: ink survives only on a grid of round dots."""
    height, width = mask.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    offset = rng.uniform(0, pitch, 2)
    dy = ((ys + offset[0]) % pitch) - pitch / 2
    dx = ((xs + offset[1]) % pitch) - pitch / 2
    dots = (dx**2 + dy**2) <= (pitch * rng.uniform(0.35, 0.55)) ** 2
    return (mask * dots).astype(mask.dtype)


def fade(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Faded thermal ink: strength falls off in patches and thin strokes break."""
    height, width = mask.shape
    strength = 0.65 + 0.35 * (smooth_noise(rng, height, width, max(4, height // 2)) + 1) / 2
    speckle = rng.random((height, width)) > rng.uniform(0.0, 0.25)
    return (mask * strength * speckle).astype(mask.dtype)


def uneven_light(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A brightness gradient across the crop, as from a lamp to one side."""
    height, width = image.shape
    direction = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    gradient = xs * np.cos(direction) + ys * np.sin(direction)
    return image * (1 + gradient * rng.uniform(0.05, 0.35))


def shadow(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A soft shadow over part of the crop (a hand or a phone above the paper)."""
    height, width = image.shape
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    angle = rng.uniform(0, 2 * np.pi)
    edge = (xs - rng.uniform(0, width)) * np.cos(angle) + (ys - height / 2) * np.sin(angle)
    softness = rng.uniform(1, max(2.0, width / 4))
    darkness = rng.uniform(0.15, 0.5)
    return image * (1 - darkness / (1 + np.exp(-edge / softness)))


def crease(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A fold line: a thin lighter or darker streak across the crop."""
    height, width = image.shape
    canvas = np.zeros_like(image)
    start = (int(rng.uniform(0, width)), 0)
    end = (int(rng.uniform(0, width)), height - 1)
    if rng.random() < 0.5:
        start, end = (0, int(rng.uniform(0, height))), (width - 1, int(rng.uniform(0, height)))
    cv2.line(canvas, start, end, 1.0, thickness=int(rng.integers(1, 3)))
    canvas = cv2.GaussianBlur(canvas, (3, 3), 0)
    return image + canvas * rng.uniform(-40, 30)


def blur(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    sigma = rng.uniform(0.3, 1.0)
    if rng.random() < 0.3:  # motion blur along the line
        size = int(rng.integers(2, 5))
        kernel = np.zeros((size, size), np.float32)
        kernel[size // 2, :] = 1.0 / size
        return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def low_resolution(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Down then up again: the few pixels a small word gets on a page scan."""
    height, width = image.shape
    scale = rng.uniform(0.45, 0.85)
    small = cv2.resize(
        image,
        (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    return image + rng.normal(0, rng.uniform(2, 10), image.shape).astype(np.float32)


def contrast(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Washed-out or punchy: stretch or squeeze around the mean."""
    mean = float(image.mean())
    return (image - mean) * rng.uniform(0.65, 1.3) + mean + rng.uniform(-20, 20)


def jpeg(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    quality = int(rng.integers(15, 90))
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return image
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE).astype(np.float32)


def binarize(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Bilevel, as fax machines and 1-bit scanners store pages (FUNSD's forms look so)."""
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    _, bilevel = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return bilevel.astype(np.float32)


def small_print(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Small type on a page scan, as on forms: the crop shrunk to 8-18 pixels high and
    mostly made bilevel there (a fax or a 1-bit scan), its threshold moved a little so
    that strokes come out thinner or bolder."""
    height, width = image.shape
    target = int(rng.integers(8, 19))
    if height > target:
        size = (max(1, round(width * target / height)), target)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        level, _ = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        pixels = np.where(pixels > level + rng.uniform(-15, 15), 255, 0).astype(np.uint8)
    return pixels


# Photometric steps in the order light, paper and camera apply them, with their chances.
PHOTOMETRIC = (
    (uneven_light, 0.3),
    (shadow, 0.12),
    (crease, 0.08),
    (low_resolution, 0.25),
    (blur, 0.25),
    (contrast, 0.3),
    (noise, 0.5),
    (jpeg, 0.3),
)
