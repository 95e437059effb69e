"""Inference: preprocessing + network + CTC decoder, batched, under `torch.inference_mode`.

The weights file holds the network's shape, its charset and its state dict, so a
predictor is built from that one file. Crops are sorted by width before batching so that
little padding is computed; results come back in the caller's order.
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.ao.quantization import fuse_modules

from ocr.recognition.charset import Charset
from ocr.recognition.ctc import Decoded, beam_decode, greedy_decode
from ocr.recognition.lexicon import Lexicon
from ocr.recognition.lexicon import load as load_lexicon
from ocr.recognition.model import Crnn, CrnnConfig
from ocr.recognition.preprocess import batch_tensor, cut_to_ink, normalize, to_gray

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "crnn.pt"


def load_model(weights: Path | bytes) -> tuple[Crnn, Charset]:
    """The network and charset stored in a weights file written by `save_weights`
    (a path, or the file's bytes: weights decrypted in memory)."""
    source = io.BytesIO(weights) if isinstance(weights, bytes) else weights
    payload = torch.load(source, map_location="cpu", weights_only=True)
    charset = Charset(payload["charset"])
    config = payload["config"]
    model = Crnn(
        CrnnConfig(
            num_classes=int(config["num_classes"]),
            channels=tuple(config["channels"]),
            hidden=int(config["hidden"]),
            lstm_layers=int(config["lstm_layers"]),
            upscale=str(config.get("upscale", "linear")),  # files from before it: linear
        )
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval(), charset


def weights_bytes(model: Crnn, charset: Charset) -> bytes:
    """The shippable file's content: shape, charset and float32 weights, no optimizer."""
    state = {key: value.detach().cpu().float() for key, value in model.state_dict().items()}
    payload = {"config": model.config.to_dict(), "charset": charset.characters, "state_dict": state}
    out = io.BytesIO()
    torch.save(payload, out)
    return out.getvalue()


def save_weights(model: Crnn, charset: Charset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(weights_bytes(model, charset))


def file_digest(path: Path | bytes) -> str:
    return hashlib.sha256(path if isinstance(path, bytes) else path.read_bytes()).hexdigest()


def inference_model(model: Crnn) -> Crnn:
    """A copy of the network for reading only: each convolution fused with its batch norm
    and ReLU, tensors channels-last. Same outputs (to 1e-5), 2.3x faster on one CPU
    thread (max pooling over channels-first tensors cost as much as the convolutions)."""
    fast = copy.deepcopy(model).eval()
    children = list(fast.features.named_children())
    groups = [
        [name, children[i + 1][0], children[i + 2][0]]
        for i, (name, module) in enumerate(children[:-2])
        if isinstance(module, torch.nn.Conv2d)
        and isinstance(children[i + 1][1], torch.nn.BatchNorm2d)
        and isinstance(children[i + 2][1], torch.nn.ReLU)
    ]
    fast.features = fuse_modules(fast.features, groups)
    return fast.to(memory_format=torch.channels_last)


class Predictor:
    """Reads word crops with a trained CRNN on the CPU (weights: a file or its bytes).

    Decoding is greedy, with the lexicon's second look at readings it does not know
    (`ocr.recognition.lexicon`); ``lexicon=False`` keeps the network's reading alone, and
    then ``beam_width`` > 1 asks for plain prefix beam search instead of greedy.
    """

    def __init__(
        self,
        weights: Path | bytes = DEFAULT_WEIGHTS,
        *,
        threads: int = 1,
        batch_size: int = 64,
        beam_width: int = 0,
        lexicon: Lexicon | bool = True,
    ) -> None:
        self.model, self.charset = load_model(weights)
        self._inference = inference_model(self.model)
        self.weights_sha256 = file_digest(weights)
        self.threads = threads
        self.batch_size = batch_size
        self.beam_width = beam_width
        # The shipped lexicon unless told otherwise (False: the network's reading alone).
        self.lexicon = load_lexicon() if lexicon is True else lexicon or None

    def predict(self, crops: Sequence[Image.Image | np.ndarray]) -> list[Decoded]:
        upscale = self.model.config.upscale
        inputs = [normalize(cut_to_ink(to_gray(crop)), upscale=upscale) for crop in crops]
        order = sorted(range(len(inputs)), key=lambda i: inputs[i].shape[1])
        results: list[Decoded | None] = [None] * len(inputs)
        # torch's thread count is per process; set it for this call and put it back.
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                for start in range(0, len(order), self.batch_size):
                    chunk = order[start : start + self.batch_size]
                    images, frames = batch_tensor([inputs[i] for i in chunk])
                    images = images.contiguous(memory_format=torch.channels_last)
                    probs = self._inference(images).exp().permute(1, 0, 2).numpy()
                    for row, index in enumerate(chunk):
                        results[index] = self._decode(probs[row, : int(frames[row])])
        finally:
            torch.set_num_threads(previous)
        return [result for result in results if result is not None]

    def _decode(self, probs: np.ndarray) -> Decoded:
        if self.lexicon is not None:
            return self.lexicon.decode(probs, self.charset)
        if self.beam_width > 1:
            return beam_decode(probs, self.charset, beam_width=self.beam_width)
        return greedy_decode(probs, self.charset)
