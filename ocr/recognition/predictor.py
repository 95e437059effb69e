"""Inference: preprocessing + network + CTC decoder, batched, under `torch.inference_mode`.

The weights file holds the network's shape, its charset and its state dict, so a
predictor is built from that one file. Crops are sorted by width and batched with crops of
about their width (`BUCKET`), so that little padding is computed; results come back in
the caller's order.

A crop reads the same whatever it is batched with: each is followed by `READ_MARGIN`
columns of its own background (as far as a frame of the convolutions sees), and the
LSTM reads each crop's frames only, both ways (`read_columns`). Padded to the widest crop
of its batch and read by the LSTM over the padding too, a crop's reading changed with its
batch mates (one reading in twelve of a receipt's words, against the crop read alone).
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.ao.quantization import fuse_modules

from ocr.recognition.charset import Charset
from ocr.recognition.ctc import Decoded, beam_decode, case_pairs, fold_case, greedy_decode_batch
from ocr.recognition.lexicon import Lexicon, lookalikes, with_point
from ocr.recognition.lexicon import load as load_lexicon
from ocr.recognition.model import INPUT_HEIGHT, WIDTH_STRIDE, Crnn, CrnnConfig
from ocr.recognition.preprocess import batch_tensor, cut_to_ink, normalize, to_gray

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "crnn.pt"
# A batch holds crops at most this many times as wide as its narrowest (plus a stride's
# worth of pixels), and at most `Predictor.batch_size` of them.
BUCKET = 1.25
# Background columns after each crop: the convolutions' reach to the right of a frame
# (a 34-pixel receptive field around it), so no frame of the crop sees past them.
READ_MARGIN = 16


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


def buckets(widths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indexes of `widths` in batches of similar widths, narrowest first (`BUCKET`)."""
    chunks: list[list[int]] = []
    for i in sorted(range(len(widths)), key=lambda i: widths[i]):
        chunk = chunks[-1] if chunks else []
        if (
            not chunk
            or len(chunk) >= batch_size
            or widths[i] > BUCKET * widths[chunk[0]] + WIDTH_STRIDE
        ):
            chunks.append(chunk := [])
        chunk.append(i)
    return chunks


def padded_batch(inputs: Sequence[np.ndarray], *, margin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`preprocess.batch_tensor` (each crop followed by its own background), padded to the
    widest crop plus `margin` columns."""
    widest = max(item.shape[1] for item in inputs) + margin
    images, frames = batch_tensor([*inputs, np.ones((INPUT_HEIGHT, widest), np.float32)])
    return images[:-1], frames[:-1]


def directions(rnn: torch.nn.LSTM) -> list[tuple[torch.nn.LSTM, torch.nn.LSTM]]:
    """Each layer of a bidirectional LSTM as two one-way LSTMs with its weights (forward,
    backward)."""
    layers = []
    for layer in range(rnn.num_layers):
        pair = []
        for suffix in ("", "_reverse"):
            size = rnn.input_size if layer == 0 else 2 * rnn.hidden_size
            one = torch.nn.LSTM(size, rnn.hidden_size)
            with torch.no_grad():
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(one, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{layer}{suffix}"))
            pair.append(one.eval())
        layers.append((pair[0], pair[1]))
    return layers


def read_columns(
    net: Crnn,
    layers: Sequence[tuple[torch.nn.LSTM, torch.nn.LSTM]],
    images: torch.Tensor,
    frames: torch.Tensor,
) -> torch.Tensor:
    """The network's log-probabilities (T, N, classes), each crop's LSTM reading only its
    own `frames`: the backward direction reads each crop reversed within its frames, so
    that padding is behind both directions (what `pack_padded_sequence` does, on the
    LSTM's fast path)."""
    sequence = net.features(images).squeeze(2).permute(2, 0, 1)  # T, N, C
    steps = torch.arange(sequence.shape[0]).unsqueeze(1)
    last = frames.unsqueeze(0) - 1
    reverse = torch.where(steps <= last, last - steps, steps).unsqueeze(2)  # its own inverse
    for forward, backward in layers:
        ahead, _ = forward(sequence)
        behind, _ = backward(sequence.gather(0, reverse.expand_as(sequence)))
        behind = behind.gather(0, reverse.expand_as(behind))
        sequence = torch.cat([ahead, behind], 2)
    return net.head(sequence).log_softmax(-1)


class Predictor:
    """Reads word crops with a trained CRNN on the CPU (weights: a file or its bytes).

    Decoding is greedy, with the lexicon's second look at readings it does not know
    (`ocr.recognition.lexicon`); ``lexicon=False`` keeps the network's reading alone, and
    then ``beam_width`` > 1 asks for plain prefix beam search instead of greedy.

    The posteriors are read case-blind (``fold_case``: each letter's two cases as one
    class, the frame's likelier case kept), and letters and digits that look alike are put
    right by their neighbours (``lookalikes``: "N0." → "NO.", "5.0O" → "5.00"); a number
    read without its point gets it back when the posteriors hold it (``with_point``:
    "7950" → "79.50"). ``case_blind=False``, ``lookalikes=False`` and ``points=False``
    read as the network alone would.
    """

    def __init__(
        self,
        weights: Path | bytes = DEFAULT_WEIGHTS,
        *,
        threads: int = 1,
        batch_size: int = 64,
        beam_width: int = 0,
        lexicon: Lexicon | bool = True,
        case_blind: bool = True,
        lookalikes: bool = True,
        points: bool = True,
    ) -> None:
        self.model, self.charset = load_model(weights)
        self._inference = inference_model(self.model)
        self._directions = directions(self._inference.rnn)
        self.weights_sha256 = file_digest(weights)
        self.threads = threads
        self.batch_size = batch_size
        self.beam_width = beam_width
        # The shipped lexicon unless told otherwise (False: the network's reading alone).
        self.lexicon = load_lexicon() if lexicon is True else lexicon or None
        self.case_blind = case_blind
        self.lookalikes = lookalikes
        self.points = points
        self._cases = case_pairs(self.charset)

    def predict(self, crops: Sequence[Image.Image | np.ndarray]) -> list[Decoded]:
        upscale = self.model.config.upscale
        inputs = [normalize(cut_to_ink(to_gray(crop)), upscale=upscale) for crop in crops]
        results: list[Decoded | None] = [None] * len(inputs)
        # torch's thread count is per process; set it for this call and put it back.
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                for chunk in buckets([item.shape[1] for item in inputs], self.batch_size):
                    images, frames = padded_batch([inputs[i] for i in chunk], margin=READ_MARGIN)
                    images = images.contiguous(memory_format=torch.channels_last)
                    log_probs = read_columns(self._inference, self._directions, images, frames)
                    probs = log_probs.exp().permute(1, 0, 2).numpy()
                    if self.case_blind:
                        probs = fold_case(probs, *self._cases)
                    lengths = frames.tolist()
                    for index, decoded in zip(chunk, self._decode(probs, lengths), strict=True):
                        results[index] = decoded
        finally:
            torch.set_num_threads(previous)
        return [result for result in results if result is not None]

    def _decode(self, probs: np.ndarray, lengths: Sequence[int]) -> list[Decoded]:
        """The readings of a batch's posteriors (N, T, classes), row i's first ``lengths[i]``
        frames its own."""
        if self.lexicon is not None:
            decoded = self.lexicon.decode_batch(probs, lengths, self.charset)
        elif self.beam_width > 1:
            decoded = [
                beam_decode(probs[row, :length], self.charset, beam_width=self.beam_width)
                for row, length in enumerate(lengths)
            ]
        else:
            decoded = greedy_decode_batch(probs, lengths, self.charset)
        if self.points:
            decoded = [
                with_point(probs[row, :length], self.charset, d)
                for row, (length, d) in enumerate(zip(lengths, decoded, strict=True))
            ]
        if not self.lookalikes:
            return decoded
        return [
            d if (fixed := lookalikes(d.text)) == d.text else replace(d, text=fixed)
            for d in decoded
        ]
