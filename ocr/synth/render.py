"""One synthetic word crop from one seed: text, font, ink, surface, degradations, crop.

The crop is cut around the moved ink with a tight or loose margin, as a detector would
cut it. A few samples are negatives (bare surface, rules, slivers of glyphs) labelled
with the empty string, so that the model learns to say that nothing is there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ocr.synth import transforms
from ocr.synth.backgrounds import background
from ocr.synth.corpus import sample_text
from ocr.synth.fonts import load_font, pick_font

NEGATIVE_SHARE = 0.04
BILEVEL_SHARE = 0.15
SMALL_PRINT_STREAM = 1  # tells the small-print generator of a seed from the sample's own
_INK_LEVEL = 64  # mask values above this count as ink when cutting the crop


@dataclass(frozen=True)
class Sample:
    """A gray crop (uint8, H × W) and what it says."""

    image: np.ndarray
    text: str


def _draw_mask(rng: random.Random, text: str) -> np.ndarray:
    """The text's ink as a float mask in [0, 1] with room around it for warping."""
    font_choice = pick_font(rng)
    size = rng.randint(14, 44)
    font = load_font(font_choice.path, size)
    stroke = 1 if (not font_choice.bold and size > 20 and rng.random() < 0.15) else 0
    tracking = rng.choice((0, 0, 0, 0, 1, 2, round(size * 0.15)))
    scratch = ImageDraw.Draw(Image.new("L", (1, 1)))
    widths = [scratch.textlength(char, font=font) for char in text]
    ascent, descent = font.getmetrics()
    pad = size // 2 + 2
    width = int(sum(widths) + tracking * max(0, len(text) - 1)) + 2 * pad + 2 * stroke
    height = ascent + descent + 2 * pad
    canvas = Image.new("L", (max(1, width), height), 0)
    draw = ImageDraw.Draw(canvas)
    if tracking:
        x = float(pad)
        for char, advance in zip(text, widths, strict=True):
            draw.text((x, pad), char, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
            x += advance + tracking
    else:
        draw.text((pad, pad), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    if rng.random() < 0.1:  # underlined fields and struck-through prices keep their text
        ink_box = canvas.getbbox() or (pad, pad, width - pad, height - pad)
        row = ascent + pad + rng.randint(1, max(2, descent)) if rng.random() < 0.8 else None
        row = row if row is not None else (ink_box[1] + ink_box[3]) // 2
        draw.line((ink_box[0], row, ink_box[2], row), fill=255, width=max(1, size // 14))
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    if font_choice.style in ("mono", "typewriter") and rng.random() < 0.25:
        mask = transforms.dot_matrix(np.random.default_rng(rng.getrandbits(32)), mask, size / 9)
        mask = cv2.GaussianBlur(mask, (3, 3), 0) * 1.6
    return np.clip(mask, 0, 1)


def _geometry(np_rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    if np_rng.random() < 0.6:
        mask = transforms.affine(np_rng, mask)
    if np_rng.random() < 0.2:
        mask = transforms.perspective(np_rng, mask)
    if np_rng.random() < 0.15:
        mask = transforms.curl(np_rng, mask)
    if np_rng.random() < 0.15:
        mask = transforms.fade(np_rng, mask)
    return mask


def _cut_box(rng: random.Random, mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) around the ink with a detector-like margin."""
    ys, xs = np.nonzero(mask > _INK_LEVEL / 255)
    if len(xs) == 0:
        return None
    top, bottom, left, right = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    ink_height = bottom - top
    if rng.random() < 0.15:  # cut into the ascenders or descenders, as tight boxes do
        vertical = [-round(rng.uniform(0, 0.12) * ink_height) for _ in range(2)]
        horizontal = [rng.randint(0, 2), rng.randint(0, 2)]
    elif rng.random() < 0.5:  # tight, as MSER boxes are
        vertical = [rng.randint(0, 2), rng.randint(0, 2)]
        horizontal = [rng.randint(0, 3), rng.randint(0, 3)]
    else:  # loose, as people or padded boxes cut
        vertical = [round(rng.uniform(0, 0.35) * ink_height) for _ in range(2)]
        horizontal = [round(rng.uniform(0, 0.6) * ink_height) for _ in range(2)]
    return top - vertical[0], bottom + vertical[1], left - horizontal[0], right + horizontal[1]


def _compose(rng: random.Random, np_rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Ink on a surface; sometimes light print on a dark band."""
    height, width = mask.shape
    surface = background(np_rng, height, width)
    if rng.random() < 0.08:
        surface = 255 - surface * rng.uniform(0.6, 1.0)  # dark band, light letters below
        ink = rng.uniform(200, 255)
    else:
        ink = rng.uniform(0, max(10.0, float(np.median(surface)) - 90))
    return surface * (1 - mask) + ink * mask


def _rules(rng: random.Random, image: np.ndarray) -> np.ndarray:
    """Table borders and underlines that loose crops catch."""
    height, width = image.shape
    level = rng.uniform(0, 120)
    if rng.random() < 0.5:
        row = rng.choice((rng.randint(0, 2), height - 1 - rng.randint(0, 2)))
        image[row : row + 1, :] = level
    else:
        column = rng.choice((rng.randint(0, 2), width - 1 - rng.randint(0, 2)))
        image[:, column : column + 1] = level
    return image


def _negative(rng: random.Random, np_rng: np.random.Generator) -> np.ndarray:
    """A crop with no readable text: bare surface, a rule, or a sliver of a glyph."""
    height = rng.randint(12, 48)
    width = rng.randint(6, 4 * height)
    mask = np.zeros((height, width), np.float32)
    roll = rng.random()
    if roll < 0.4:  # a partial character cut by the crop's edge
        glyph = _draw_mask(rng, rng.choice("ABHMNWXYZabdghkmw0123456789#%&"))
        glyph = cv2.resize(glyph, (max(1, glyph.shape[1] * height // glyph.shape[0]), height))
        keep = max(1, glyph.shape[1] // rng.randint(5, 9))
        sliver = glyph[:, :keep] if rng.random() < 0.5 else glyph[:, -keep:]
        offset = rng.choice((0, width - sliver.shape[1])) if width > sliver.shape[1] else 0
        mask[:, offset : offset + sliver.shape[1]] = sliver[:, : width - offset]
    elif roll < 0.6:  # a line, a box edge
        cv2.line(mask, (0, height // 2), (width - 1, height // 2 + rng.randint(-2, 2)), 1.0, 1)
    image = _compose(rng, np_rng, mask)
    return _photometric(np_rng, image)


def _photometric(np_rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    if np_rng.random() < BILEVEL_SHARE:  # a 1-bit scan: soften, threshold, nothing after
        if np_rng.random() < 0.5:
            image = transforms.blur(np_rng, image)
        return transforms.binarize(np_rng, image).astype(np.uint8)
    for step, chance in transforms.PHOTOMETRIC:
        if np_rng.random() < chance:
            image = step(np_rng, image)
    return np.clip(image, 0, 255).astype(np.uint8)


def render_sample(seed: int, text: str | None = None) -> Sample:
    """The crop for `seed`; the text is drawn from the corpus unless given."""
    rng = random.Random(seed)  # noqa: S311  synthetic data, not cryptography
    np_rng = np.random.default_rng(seed)
    if text is None and rng.random() < NEGATIVE_SHARE:
        return Sample(image=_negative(rng, np_rng), text="")
    if text is None:
        text = sample_text(rng)
    mask = _geometry(np_rng, _draw_mask(rng, text))
    box = _cut_box(rng, mask)
    if box is None:  # nothing left to see after the transforms
        return Sample(image=_negative(rng, np_rng), text="")
    image = _compose(rng, np_rng, mask)
    top, bottom, left, right = box
    pad = max(0, -top, -left, bottom - image.shape[0], right - image.shape[1])
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    crop = image[top + pad : bottom + pad, left + pad : right + pad].copy()
    if rng.random() < 0.1:
        crop = _rules(rng, crop)
    return Sample(image=_photometric(np_rng, crop), text=text)


def small_print_for(seed: int, image: np.ndarray, share: float) -> np.ndarray:
    """Sample `seed`'s crop shrunk to small scanned type (`transforms.small_print`) for
    `share` of the seeds, decided by a generator of its own: the sample's own draws, and
    so every other sample, stay as they were."""
    if share <= 0:
        return image
    rng = np.random.default_rng((seed, SMALL_PRINT_STREAM))
    return transforms.small_print(rng, image) if rng.random() < share else image
