"""The training loop behind `python -m ocr.train`: typed config in, weights file out.

Deterministic for a seed on one device (cuDNN's nondeterministic kernels are off);
a checkpoint every `checkpoint_every` steps holds model, optimizer, schedule and step,
and a run started again with the same output folder resumes from it and reads the same
batches. CPU by default; a GPU is used when one is present and `device` is "auto".

Fine-tuning starts from trained weights and reads labelled real crops (a folder, or
images in memory: `fit(..., finetune=...)`), optionally mixed with synthetic words in
every batch (`synthetic_share`, against forgetting), jittered (`augment`), and with the
convolutional features frozen (`freeze_features`: only the BiLSTM and the head learn,
three times faster per step on a CPU). Without `out_dir` nothing is written to disk:
the platform retrains on donated crops and keeps the weights encrypted itself.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ocr.recognition.charset import Charset
from ocr.recognition.ctc import greedy_decode
from ocr.recognition.data import (
    FineTuneMix,
    Item,
    LabelledFolder,
    LabelledImages,
    SyntheticWords,
    WidthBuckets,
    collate,
)
from ocr.recognition.model import Crnn, CrnnConfig
from ocr.recognition.predictor import load_model, save_weights

# Called after every step with (step, steps, seconds left): progress for a page or a log.
Progress = Callable[[int, int, float], None]

logger = logging.getLogger(__name__)

VALIDATION_FIRST_SEED = 10**9  # far from the training seeds, which start at 0
BATCHES_PER_RUN = 8  # batches rendered together and grouped by width


@dataclass
class TrainConfig:
    """Everything that decides a run; the defaults reproduce the shipped weights."""

    out_dir: Path | None = Path("var/train")  # None: no checkpoints, no files at all
    export: Path | None = None  # where the final weights file goes (besides out_dir)
    seed: int = 0
    steps: int = 6000
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    grad_clip: float = 5.0
    channels: tuple[int, ...] = (16, 32, 64, 64, 96)
    hidden: int = 96
    lstm_layers: int = 1
    validation_size: int = 512
    log_every: int = 100
    checkpoint_every: int = 500
    workers: int = 1
    threads: int = 1
    device: str = "auto"  # "auto": cuda when available, else cpu
    finetune_dir: Path | None = None  # a folder + labels.tsv: fine-tune on those crops
    init_weights: Path | None = None  # start from these weights (fine-tuning)
    resume: bool = True
    # Fine-tuning only: the share of each batch drawn from synthetic words (0: none).
    synthetic_share: float = 0.0
    freeze_features: bool = False  # fine-tuning: train only the BiLSTM and the head
    augment: bool = False  # fine-tuning: jitter the real crops (margins, scale, blur, ...)
    # The share of synthetic words shrunk to small scanned type (the second stage of
    # `make train`, which starts from the first stage's weights).
    small_print_share: float = 0.0
    # How the model enlarges low crops (`preprocess.UPSCALE`), stored with its weights;
    # None: the initial weights' way (linear for a new network).
    upscale: str | None = None
    # Synthetic words cut down to their ink, as reading cuts real crops (second stage).
    cut_synthetic: bool = False


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # the legacy global state some libraries still read
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _real_crops(config: TrainConfig, charset: Charset) -> LabelledImages | None:
    if config.finetune_dir is None:
        return None
    seed = config.seed if config.augment else None
    return LabelledFolder(charset, config.finetune_dir, augment_seed=seed)


def _training_data(
    config: TrainConfig, charset: Charset, real: LabelledImages | None, *, upscale: str
) -> Dataset[Item]:
    synthetic = SyntheticWords(
        charset,
        first_seed=config.seed * 10**8,
        length=(config.steps + BATCHES_PER_RUN) * config.batch_size,
        small_print_share=config.small_print_share,
        cut=config.cut_synthetic,
        upscale=upscale,
    )
    if real is None:
        return synthetic
    if config.synthetic_share > 0 or config.augment:
        real_per_batch = max(1, round(config.batch_size * (1 - config.synthetic_share)))
        return FineTuneMix(
            real,
            synthetic,
            batches=config.steps + BATCHES_PER_RUN,
            batch_size=config.batch_size,
            real_per_batch=min(config.batch_size, real_per_batch),
            seed=config.seed,
        )
    # Epochs over the folder in a seeded order, as many as the steps need.
    generator = np.random.default_rng(config.seed)
    needed = (config.steps + BATCHES_PER_RUN) * config.batch_size
    order = np.concatenate(
        [generator.permutation(len(real)) for _ in range(needed // len(real) + 1)]
    )
    return Subset(real, order[:needed].tolist())


def _build(config: TrainConfig, charset: Charset, initial: bytes | None) -> Crnn:
    source = initial if initial is not None else config.init_weights
    if source is not None:
        model, stored = load_model(source)
        if stored.characters != charset.characters:
            raise ValueError("the initial weights were trained with another charset")
        if config.upscale is not None:
            model.config = replace(model.config, upscale=config.upscale)
        return model
    return Crnn(
        CrnnConfig(
            num_classes=len(charset),
            channels=config.channels,
            hidden=config.hidden,
            lstm_layers=config.lstm_layers,
            upscale=config.upscale or "linear",
        )
    )


def one_cycle(
    optimizer: torch.optim.Optimizer, *, steps: int, learning_rate: float, warmup: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """One cycle: warm up, then anneal. OneCycle needs two warm-up steps and one after
    them; shorter runs (tests, smoke runs) keep the rate constant."""
    if steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=learning_rate,
        total_steps=steps,
        pct_start=min(0.5, max(warmup, 2 / steps)),
    )


def _train_mode(model: Crnn, *, freeze_features: bool) -> None:
    """Training mode; frozen features keep their batch-norm statistics as they were."""
    model.train()
    if freeze_features:
        model.features.eval()


def evaluate_batches(
    model: Crnn, loader: DataLoader, charset: Charset, device: torch.device
) -> float:
    """Exact-match accuracy of greedy decoding over a loader."""
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for images, frames, targets, lengths in loader:
            probs = model(images.to(device)).exp().permute(1, 0, 2).cpu().numpy()
            offsets = np.concatenate(([0], np.cumsum(lengths.numpy())))
            for row in range(len(lengths)):
                truth = charset.decode(targets[offsets[row] : offsets[row + 1]].tolist())
                read = greedy_decode(probs[row, : int(frames[row])], charset).text
                correct += read == truth
                total += 1
    model.train()
    return correct / max(1, total)


def train(config: TrainConfig) -> Path:
    """Runs (or resumes) training; returns the path of the final weights file."""
    if config.out_dir is None:
        raise ValueError("train() writes a weights file: give it an out_dir, or call fit()")
    fit(config)
    final = config.export if config.export is not None else config.out_dir / "crnn.pt"
    logger.info("weights written to %s", final)
    return final


def fit(
    config: TrainConfig,
    *,
    finetune: LabelledImages | None = None,
    initial: bytes | None = None,
    progress: Progress | None = None,
) -> Crnn:
    """Trains and returns the network (on the CPU, in eval mode).

    `finetune`: labelled crops in memory, instead of `config.finetune_dir`; `initial`:
    the weights file's bytes to start from, instead of `config.init_weights`.
    """
    _seed_everything(config.seed)
    torch.set_num_threads(config.threads)
    device = _device(config.device)
    charset = Charset()
    model = _build(config, charset, initial).to(device)
    if config.freeze_features:
        for parameter in model.features.parameters():
            parameter.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    schedule = one_cycle(
        optimizer,
        steps=config.steps,
        learning_rate=config.learning_rate,
        warmup=config.warmup_fraction,
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    checkpoint_path = None
    if config.out_dir is not None:
        config.out_dir.mkdir(parents=True, exist_ok=True)
        checkpoint_path = config.out_dir / "checkpoint.pt"
    step = 0
    if config.resume and checkpoint_path is not None and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step = int(state["step"])
        torch.set_rng_state(state["torch_rng"])
        logger.info("resumed from %s at step %d", checkpoint_path, step)

    # A labelled folder may hold few crops, each seen many times: grouping by width would
    # fill a batch with copies of one crop, and batch norm's statistics would drift with it.
    # Enough real crops for a whole run of batches are grouped, as synthetic ones are:
    # real crops run from 16 to 480 pixels wide, and padding dominates a random batch.
    real = finetune if finetune is not None else _real_crops(config, charset)
    upscale = model.config.upscale
    if real is not None:
        real.upscale = upscale  # read as the model will read crops
    mixed = real is not None and (config.synthetic_share > 0 or config.augment)
    grouped = real is None or (mixed and len(real) >= BATCHES_PER_RUN * config.batch_size)
    per_run = BATCHES_PER_RUN if grouped else 1
    runs = WidthBuckets(
        _training_data(config, charset, real, upscale=upscale),
        batch_size=config.batch_size,
        per_item=per_run,
    )
    loader = DataLoader(
        Subset(runs, range(step // per_run, len(runs))),
        batch_size=None,
        num_workers=config.workers,
        worker_init_fn=_worker_init,
        prefetch_factor=2 if config.workers else None,
    )
    skip = step % per_run  # batches of the first run already trained on
    validation = DataLoader(
        SyntheticWords(
            charset,
            first_seed=VALIDATION_FIRST_SEED,
            length=config.validation_size,
            upscale=upscale,
        ),
        batch_size=128,
        collate_fn=collate,
    )
    logger.info(
        "training %d parameters on %s for %d steps (config %s)",
        sum(p.numel() for p in model.parameters()),
        device,
        config.steps,
        {k: str(v) for k, v in asdict(config).items()},
    )
    _train_mode(model, freeze_features=config.freeze_features)
    started = time.monotonic()
    first_step = step
    running_loss = 0.0
    batches = (batch for run in loader for batch in run)
    for images, frames, targets, lengths in itertools.islice(batches, skip, None):
        log_probs = model(images.to(device))
        loss = ctc(log_probs, targets.to(device), frames.to(device), lengths.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        schedule.step()
        step += 1
        running_loss += loss.item()
        elapsed = time.monotonic() - started
        eta = elapsed / (step - first_step) * (config.steps - step)
        if progress is not None:
            progress(step, config.steps, eta)
        if step % config.log_every == 0 or step == config.steps:
            logger.info(
                "step %d/%d loss %.3f lr %.2e, %.2f s/step, ETA %s",
                step,
                config.steps,
                running_loss / config.log_every,
                schedule.get_last_lr()[0],
                elapsed / (step - first_step),
                time.strftime("%H:%M:%S", time.gmtime(eta)),
            )
            running_loss = 0.0
        if checkpoint_path is not None and (
            step % config.checkpoint_every == 0 or step == config.steps
        ):
            accuracy = evaluate_batches(model, validation, charset, device)
            _train_mode(model, freeze_features=config.freeze_features)
            logger.info("step %d: synthetic validation accuracy %.3f", step, accuracy)
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step,
                    "torch_rng": torch.get_rng_state(),
                },
                checkpoint_path,
            )
            save_weights(model, charset, config.out_dir / "crnn.pt")
        if step >= config.steps:
            break
    model = model.cpu().eval()
    if config.out_dir is not None:
        save_weights(model, charset, config.out_dir / "crnn.pt")
    if config.export is not None:
        save_weights(model, charset, config.export)
    return model
