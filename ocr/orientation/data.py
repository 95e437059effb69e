"""What the orientation classifier reads, and the crops it learns from.

`turn(gray, k)` turns a crop by k × 90° counter-clockwise. A crop is shown to the
network long side horizontal (`canonical`): a tall crop is turned back a quarter first,
which leaves two likely answers for a long word (0 or 180 of the canonical view) and
keeps its letters at full height. The class of the canonical view is
(k - quarter_turns_taken) mod 4.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ocr.recognition.preprocess import batch_tensor, normalize, to_gray
from ocr.synth.render import render_sample

MAX_WIDTH = 192  # wider crops are squeezed: orientation needs a few letters, not all
Item = tuple[np.ndarray, int]


def turn(gray: np.ndarray, quarters: int) -> np.ndarray:
    """The crop turned by `quarters` × 90° counter-clockwise."""
    return np.ascontiguousarray(np.rot90(gray, quarters % 4))


def canonical(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """The crop laid long side horizontal, and the quarter turns already taken (0 or 1)."""
    if gray.shape[0] > gray.shape[1]:
        return turn(gray, -1), 1
    return gray, 0


def prepare(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """Network input (32 × W, [-1, 1]) and the quarter turns `canonical` took."""
    view, taken = canonical(gray)
    pixels = normalize(view)
    if pixels.shape[1] > MAX_WIDTH:
        pixels = cv2.resize(pixels, (MAX_WIDTH, pixels.shape[0]), interpolation=cv2.INTER_AREA)
    return pixels, taken


def item_for(gray: np.ndarray, quarters: int) -> Item:
    """A training item: the upright crop turned by `quarters`, labelled for its view."""
    pixels, taken = prepare(turn(gray, quarters))
    return pixels, (quarters - taken) % 4


class SyntheticTurns(Dataset[Item]):
    """Synthetic words (never empty ones), each turned by a quarter count its seed picks."""

    def __init__(self, *, first_seed: int, length: int) -> None:
        self.first_seed = first_seed
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Item:
        seed = self.first_seed + index
        sample = render_sample(seed)
        while not sample.text.strip():  # a negative: nothing to orient, take the next seed
            seed += 10**7
            sample = render_sample(seed)
        quarters = int(np.random.default_rng((seed, 7)).integers(0, 4))
        return item_for(sample.image, quarters)


class TurnedCrops(Dataset[Item]):
    """Real crops with their known turn (quarters, counter-clockwise), in memory.

    Upright crops (turn 0) can be offered turned every way: `all_turns` makes item
    4i + k the i-th crop turned a further k quarters.
    """

    def __init__(
        self, images: list[np.ndarray], quarters: list[int], *, all_turns: bool = False
    ) -> None:
        if len(images) != len(quarters):
            raise ValueError("one turn per image")
        self.images = images
        self.quarters = quarters
        self.all_turns = all_turns

    def __len__(self) -> int:
        return len(self.images) * (4 if self.all_turns else 1)

    def __getitem__(self, index: int) -> Item:
        crop, extra = divmod(index, 4) if self.all_turns else (index, 0)
        # The stored crop is turned by quarters[crop]: turn it upright, then by `extra`.
        upright = turn(self.images[crop], -self.quarters[crop])
        return item_for(upright, extra if self.all_turns else self.quarters[crop])


def read_turns(folder: Path) -> TurnedCrops:
    """`folder/labels.tsv`: file name TAB angle (0, 90, 180 or 270), no header."""
    images, quarters = [], []
    with (folder / "labels.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not row:
                continue
            angle = int(row[1])
            if angle not in (0, 90, 180, 270):
                raise ValueError(f"{row[0]}: angle must be 0, 90, 180 or 270, not {angle}")
            with Image.open(folder / row[0]) as image:
                images.append(to_gray(image))
            quarters.append(angle // 90)
    return TurnedCrops(images, quarters)


def collate(items: list[Item]) -> tuple[torch.Tensor, torch.Tensor]:
    images, _ = batch_tensor([pixels for pixels, _ in items])
    return images, torch.tensor([label for _, label in items], dtype=torch.long)
