"""Datasets the training loop reads: synthetic crops by seed, or labelled real crops.

A synthetic item is a pure function of its index, so a run restarted at step k reads the
very batches it would have read. Labelled crops (a folder with labels.tsv, or images held
in memory: the platform's decrypted crops never touch the disk) are the fine-tuning
source; `FineTuneMix` interleaves them with synthetic words against forgetting, and
`jitter` varies them (margins, scale, blur, contrast) so that a few thousand real crops
can be read many times without being learnt by heart.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ocr.recognition.charset import Charset
from ocr.recognition.preprocess import batch_tensor, cut_to_ink, normalize, to_gray
from ocr.synth import transforms
from ocr.synth.render import render_sample, small_print_for

Item = tuple[np.ndarray, list[int]]


class SyntheticWords(Dataset[Item]):
    """Items `first_seed`, `first_seed + 1`, … of the synthetic generator.

    `small_print_share` of them are shrunk to small type on a page scan
    (`transforms.small_print`), decided by a generator of their own: with 0 the items
    are exactly the generator's. With `cut`, each is cut down to its ink as reading cuts
    a real crop (`cut_to_ink`). `upscale`: as the model enlarges crops (`normalize`).
    """

    def __init__(
        self,
        charset: Charset,
        *,
        first_seed: int,
        length: int,
        small_print_share: float = 0.0,
        cut: bool = False,
        upscale: str = "linear",
    ) -> None:
        self.charset = charset
        self.first_seed = first_seed
        self.length = length
        self.small_print_share = small_print_share
        self.cut = cut
        self.upscale = upscale

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Item:
        seed = self.first_seed + index
        sample = render_sample(seed)
        image = small_print_for(seed, sample.image, self.small_print_share)
        if self.cut:
            image = cut_to_ink(image)
        return normalize(image, upscale=self.upscale), self.charset.encode(sample.text)


def read_labels(folder: Path) -> list[tuple[Path, str]]:
    """(image path, text) rows of `folder/labels.tsv`: file name TAB text, no header."""
    rows: list[tuple[Path, str]] = []
    with (folder / "labels.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row:
                rows.append((folder / row[0], row[1] if len(row) > 1 else ""))
    return rows


class LabelledImages(Dataset[Item]):
    """Gray crops (uint8 H × W) with their texts, held in memory.

    `upscale`: as the model being trained enlarges crops (`fit` sets it to the model's).

    With `augment_seed`, item i is jittered by its own seeded generator (`jitter`), so an
    epoch's items differ from the last one's and a resumed run still reads the same ones.
    """

    upscale = "linear"

    def __init__(
        self,
        charset: Charset,
        images: list[np.ndarray],
        texts: list[str],
        *,
        augment_seed: int | None = None,
    ) -> None:
        if len(images) != len(texts):
            raise ValueError("one text per image")
        self.charset = charset
        self.images = images
        self.texts = texts
        self.augment_seed = augment_seed

    def __len__(self) -> int:
        return len(self.images)

    def gray(self, index: int) -> np.ndarray:
        return self.images[index]

    def __getitem__(self, index: int) -> Item:
        return self.item(index)

    def item(self, index: int, *, draw: int = 0) -> Item:
        """Item `index`; `draw` tells repeated reads of it apart (their jitter differs)."""
        # Cut to the ink as reading does (a model fine-tuned on real crops is read so),
        # then jittered around that.
        gray = cut_to_ink(self.gray(index))
        if self.augment_seed is not None:
            gray = jitter(np.random.default_rng((self.augment_seed, index, draw)), gray)
        return normalize(gray, upscale=self.upscale), self.charset.encode(self.texts[index])


class LabelledFolder(LabelledImages):
    """Crops named in a labels.tsv, read from the folder when needed."""

    def __init__(self, charset: Charset, folder: Path, *, augment_seed: int | None = None):
        rows = read_labels(folder)
        self.charset = charset
        self.paths = [path for path, _ in rows]
        self.texts = [text for _, text in rows]
        self.augment_seed = augment_seed

    def __len__(self) -> int:
        return len(self.paths)

    def gray(self, index: int) -> np.ndarray:
        with Image.open(self.paths[index]) as image:
            return to_gray(image)


def jitter(rng: np.random.Generator, gray: np.ndarray) -> np.ndarray:
    """A real crop varied the way another detector box or another scan would vary it:
    margins moved by a few pixels, resolution, blur, contrast, noise, JPEG."""
    pixels = gray.astype(np.float32)
    height, width = pixels.shape
    if height >= 8 and width >= 8:
        reach = max(1, round(0.12 * height))
        top, bottom, left, right = (int(v) for v in rng.integers(-reach, reach + 1, 4))
        pad = max(0, -top, -bottom, -left, -right)
        if pad:
            pixels = cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        top, bottom, left, right = top + pad, bottom + pad, left + pad, right + pad
        cut = pixels[top : pixels.shape[0] - bottom, left : pixels.shape[1] - right]
        if cut.shape[0] >= 4 and cut.shape[1] >= 4:
            pixels = cut
    for step, chance in ((transforms.low_resolution, 0.25), (transforms.blur, 0.2)):
        if rng.random() < chance:
            pixels = step(rng, pixels)
    if rng.random() < 0.4:
        pixels = transforms.contrast(rng, pixels)
    if rng.random() < 0.3:
        pixels = transforms.noise(rng, pixels)
    if rng.random() < 0.15:
        pixels = transforms.jpeg(rng, pixels)
    return np.clip(pixels, 0, 255).astype(np.uint8)


class FineTuneMix(Dataset[Item]):
    """Batch after batch of `batch_size` items: `real_per_batch` real crops (epochs over
    them in a seeded order), then synthetic words, so that every batch reminds the
    network of what it read before the real crops came (against forgetting)."""

    def __init__(
        self,
        real: LabelledImages,
        synthetic: SyntheticWords,
        *,
        batches: int,
        batch_size: int,
        real_per_batch: int,
        seed: int,
    ) -> None:
        if not 0 < real_per_batch <= batch_size:
            raise ValueError("a fine-tuning batch needs at least one real crop")
        if len(real) == 0:
            raise ValueError("no labelled crops to fine-tune on")
        self.real = real
        self.synthetic = synthetic
        self.batches = batches
        self.batch_size = batch_size
        self.real_per_batch = real_per_batch
        generator = np.random.default_rng(seed)
        needed = batches * real_per_batch
        epochs = needed // len(real) + 1
        self.order = np.concatenate([generator.permutation(len(real)) for _ in range(epochs)])

    def __len__(self) -> int:
        return self.batches * self.batch_size

    def __getitem__(self, index: int) -> Item:
        batch, position = divmod(index, self.batch_size)
        if position < self.real_per_batch:
            drawn = batch * self.real_per_batch + position
            return self.real.item(int(self.order[drawn]), draw=drawn // len(self.real))
        synthetic_per_batch = self.batch_size - self.real_per_batch
        return self.synthetic[batch * synthetic_per_batch + position - self.real_per_batch]


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class WidthBuckets(Dataset[list[Batch]]):
    """Item c: `per_item` batches cut from the c-th run of `per_item × batch_size` items,
    sorted by width first, so that a batch pads narrow crops to narrow, wide to wide.

    Words range from 16 to 800 pixels at height 32; padding every batch to its widest crop
    would spend most of a step on padding.
    """

    def __init__(self, items: Dataset[Item], *, batch_size: int, per_item: int = 8) -> None:
        self.items = items
        self.batch_size = batch_size
        self.per_item = per_item

    def __len__(self) -> int:
        return len(self.items) // (self.batch_size * self.per_item)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> list[Batch]:
        size = self.batch_size * self.per_item
        run = [self.items[i] for i in range(index * size, (index + 1) * size)]
        run.sort(key=lambda item: item[0].shape[1])
        batches = [collate(run[i : i + self.batch_size]) for i in range(0, size, self.batch_size)]
        # The order of the widths within a run says nothing; shuffle it by the index.
        order = np.random.default_rng(index).permutation(len(batches))
        return [batches[i] for i in order]


def collate(items: list[Item]) -> Batch:
    """Images, frames per image, concatenated targets and target lengths (CTC's inputs)."""
    images, frames = batch_tensor([image for image, _ in items])
    targets = torch.tensor([index for _, label in items for index in label], dtype=torch.long)
    lengths = torch.tensor([len(label) for _, label in items], dtype=torch.long)
    return images, frames, targets, lengths
