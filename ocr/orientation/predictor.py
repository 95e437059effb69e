"""Which way up each crop is, batched, under `torch.inference_mode`; and turning it back."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ocr.orientation.data import prepare
from ocr.orientation.model import ANGLES, OrientationConfig, OrientationNet
from ocr.recognition.predictor import inference_model
from ocr.recognition.preprocess import batch_tensor, to_gray

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "orientation.pt"


@dataclass(frozen=True)
class Orientation:
    """How far the crop's content is turned (counter-clockwise), and how sure that is."""

    angle: int  # 0, 90, 180 or 270
    confidence: float
    probabilities: tuple[float, float, float, float]  # per angle of ANGLES


def weights_bytes(model: OrientationNet) -> bytes:
    state = {key: value.detach().cpu().float() for key, value in model.state_dict().items()}
    out = io.BytesIO()
    torch.save({"config": model.config.to_dict(), "state_dict": state}, out)
    return out.getvalue()


def load_model(weights: Path | bytes) -> OrientationNet:
    source = io.BytesIO(weights) if isinstance(weights, bytes) else weights
    payload = torch.load(source, map_location="cpu", weights_only=True)
    config = payload["config"]
    model = OrientationNet(
        OrientationConfig(channels=tuple(config["channels"]), hidden=int(config["hidden"]))
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval()


class OrientationClassifier:
    """Reads the orientation of word crops on the CPU (weights: a file or its bytes)."""

    def __init__(
        self, weights: Path | bytes = DEFAULT_WEIGHTS, *, threads: int = 1, batch_size: int = 128
    ) -> None:
        raw = weights if isinstance(weights, bytes) else weights.read_bytes()
        self.model = load_model(raw)
        self._inference = inference_model(self.model)
        self.weights_sha256 = hashlib.sha256(raw).hexdigest()
        self.threads = threads
        self.batch_size = batch_size

    def predict(self, crops: Sequence[Image.Image | np.ndarray]) -> list[Orientation]:
        prepared = [prepare(to_gray(crop)) for crop in crops]
        results: list[Orientation] = []
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                for start in range(0, len(prepared), self.batch_size):
                    chunk = prepared[start : start + self.batch_size]
                    images, _ = batch_tensor([pixels for pixels, _ in chunk])
                    images = images.contiguous(memory_format=torch.channels_last)
                    probs = self._inference(images).softmax(-1).numpy()
                    for (_, taken), row in zip(chunk, probs, strict=True):
                        results.append(_orientation(row, taken))
        finally:
            torch.set_num_threads(previous)
        return results

    @staticmethod
    def undo(crop: Image.Image, orientation: Orientation) -> Image.Image:
        return undo(crop, orientation)

    def upright(
        self, crops: Sequence[Image.Image], *, min_confidence: float
    ) -> tuple[list[Image.Image], list[Orientation]]:
        """Each crop turned back where the classifier is at least `min_confidence` sure
        that it is turned; the others as they were."""
        orientations = self.predict(crops)
        turned = [
            undo(crop, found) if found.angle and found.confidence >= min_confidence else crop
            for crop, found in zip(crops, orientations, strict=True)
        ]
        return turned, orientations


def _orientation(view_probs: np.ndarray, taken: int) -> Orientation:
    """The canonical view's class probabilities, as angles of the crop itself."""
    probabilities = tuple(float(view_probs[(k - taken) % 4]) for k in range(4))
    best = int(np.argmax(probabilities))
    return Orientation(
        angle=ANGLES[best],
        confidence=probabilities[best],
        probabilities=probabilities,  # type: ignore[arg-type]
    )


def undo(crop: Image.Image, orientation: Orientation) -> Image.Image:
    """The crop turned upright (clockwise by the angle it was found turned)."""
    clockwise = {
        90: Image.Transpose.ROTATE_270,  # PIL's ROTATE_n turn counter-clockwise
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }
    if orientation.angle == 0:
        return crop
    return crop.transpose(clockwise[orientation.angle])
