"""Datasets the training loop reads: synthetic crops by seed, or a folder with labels.tsv.

A synthetic item is a pure function of its index, so a run restarted at step k reads the
very batches it would have read; a folder of labelled crops is the fine-tuning source.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ocr.recognition.charset import Charset
from ocr.recognition.preprocess import batch_tensor, normalize, to_gray
from ocr.synth.render import render_sample

Item = tuple[np.ndarray, list[int]]


class SyntheticWords(Dataset[Item]):
    """Items `first_seed`, `first_seed + 1`, … of the synthetic generator."""

    def __init__(self, charset: Charset, *, first_seed: int, length: int) -> None:
        self.charset = charset
        self.first_seed = first_seed
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Item:
        sample = render_sample(self.first_seed + index)
        return normalize(sample.image), self.charset.encode(sample.text)


def read_labels(folder: Path) -> list[tuple[Path, str]]:
    """(image path, text) rows of `folder/labels.tsv`: file name TAB text, no header."""
    rows: list[tuple[Path, str]] = []
    with (folder / "labels.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row:
                rows.append((folder / row[0], row[1] if len(row) > 1 else ""))
    return rows


class LabelledFolder(Dataset[Item]):
    """Crops named in a labels.tsv, for fine-tuning on real, accepted labels."""

    def __init__(self, charset: Charset, folder: Path) -> None:
        self.charset = charset
        self.rows = read_labels(folder)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Item:
        path, text = self.rows[index]
        with Image.open(path) as image:
            gray = to_gray(image)
        return normalize(gray), self.charset.encode(text)


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
