"""Training the orientation classifier: typed config in, weights out.

From scratch on synthetic words turned by known angles (`make train-orientation`
reproduces the shipped weights), or fine-tuned from weights on real crops with known
turns (`fit(..., real=...)`: a folder, or crops in memory), mixed with synthetic ones.
Deterministic for a seed on the CPU. Without `out_dir` nothing is written to disk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ocr.orientation.data import Item, SyntheticTurns, TurnedCrops, collate, read_turns
from ocr.orientation.model import OrientationConfig, OrientationNet
from ocr.orientation.predictor import load_model, weights_bytes
from ocr.recognition.training import one_cycle

logger = logging.getLogger(__name__)

VALIDATION_FIRST_SEED = 10**9  # far from the training seeds
Progress = Callable[[int, int, float], None]


@dataclass
class OrientationTrainConfig:
    """Everything that decides a run; the defaults reproduce the shipped weights."""

    out_dir: Path | None = Path("var/train-orientation")
    export: Path | None = None
    seed: int = 0
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    channels: tuple[int, int, int, int] = (16, 32, 48, 64)
    hidden: int = 64
    validation_size: int = 1024
    log_every: int = 100
    workers: int = 1
    threads: int = 1
    finetune_dir: Path | None = None  # crops + labels.tsv (file TAB angle)
    init_weights: Path | None = None
    synthetic_share: float = 0.5  # fine-tuning: share of each batch drawn from synthetic words


class _Mixed(Dataset[Item]):
    """Batches of real crops (seeded epochs) topped up with synthetic ones."""

    def __init__(
        self, real: Dataset[Item], synthetic: SyntheticTurns, *, batch: int, real_per: int
    ) -> None:
        self.real, self.synthetic, self.batch, self.real_per = real, synthetic, batch, real_per
        self.order = np.random.default_rng(0).permutation(len(real))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.synthetic)

    def __getitem__(self, index: int) -> Item:
        batch, position = divmod(index, self.batch)
        if position < self.real_per:
            drawn = batch * self.real_per + position
            return self.real[int(self.order[drawn % len(self.order)])]
        return self.synthetic[index]


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def evaluate(model: OrientationNet, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for images, labels in loader:
            correct += int((model(images).argmax(-1) == labels).sum())
            total += len(labels)
    return correct / max(1, total)


def fit(
    config: OrientationTrainConfig,
    *,
    real: Dataset[Item] | None = None,
    initial: bytes | None = None,
    progress: Progress | None = None,
) -> OrientationNet:
    """Trains and returns the classifier (eval mode, CPU)."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    if initial is not None or config.init_weights is not None:
        model = load_model(initial if initial is not None else config.init_weights)
    else:
        model = OrientationNet(OrientationConfig(channels=config.channels, hidden=config.hidden))
    if real is None and config.finetune_dir is not None:
        real = read_turns(config.finetune_dir)
    synthetic = SyntheticTurns(
        first_seed=config.seed * 10**8, length=(config.steps + 1) * config.batch_size
    )
    items: Dataset[Item] = synthetic
    if real is not None and len(real) > 0:  # type: ignore[arg-type]
        real_per = max(1, round(config.batch_size * (1 - config.synthetic_share)))
        items = _Mixed(real, synthetic, batch=config.batch_size, real_per=real_per)
    loader = DataLoader(
        items,
        batch_size=config.batch_size,
        collate_fn=collate,
        num_workers=config.workers,
        worker_init_fn=_worker_init,
        prefetch_factor=4 if config.workers else None,
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = one_cycle(
        optimizer, steps=config.steps, learning_rate=config.learning_rate, warmup=0.1
    )
    loss_of = nn.CrossEntropyLoss()
    model.train()
    started = time.monotonic()
    running = 0.0
    for step, (images, labels) in enumerate(loader, start=1):
        loss = loss_of(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        running += loss.item()
        eta = (time.monotonic() - started) / step * (config.steps - step)
        if progress is not None:
            progress(step, config.steps, eta)
        if step % config.log_every == 0 or step == config.steps:
            logger.info(
                "orientation step %d/%d loss %.3f, ETA %s",
                step,
                config.steps,
                running / config.log_every,
                time.strftime("%H:%M:%S", time.gmtime(eta)),
            )
            running = 0.0
        if step >= config.steps:
            break
    model.eval()
    if config.validation_size:
        validation = DataLoader(
            SyntheticTurns(first_seed=VALIDATION_FIRST_SEED, length=config.validation_size),
            batch_size=128,
            collate_fn=collate,
        )
        logger.info("orientation: synthetic validation accuracy %.3f", evaluate(model, validation))
    raw = weights_bytes(model)
    for path in (
        config.out_dir / "orientation.pt" if config.out_dir is not None else None,
        config.export,
    ):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
            logger.info("orientation weights written to %s", path)
    return model


__all__ = ["OrientationTrainConfig", "TurnedCrops", "evaluate", "fit"]
