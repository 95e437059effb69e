"""The training loop: a tiny network overfits a handful of crops; resuming changes nothing."""

from pathlib import Path

import pytest
import torch

from ocr.recognition.predictor import Predictor
from ocr.recognition.training import TrainConfig, train
from ocr.synthetic import render_word
from tests.ocr.conftest import write_crops_folder

WORDS = ["TOTAL", "6.69", "Cash", "(RM)"]


@pytest.fixture
def crops_folder(tmp_path: Path) -> Path:
    return write_crops_folder(tmp_path / "crops", WORDS)


def tiny_config(folder: Path, out: Path, **changes) -> TrainConfig:
    settings = {
        "out_dir": out,
        "finetune_dir": folder,
        "steps": 400,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "warmup_fraction": 0.1,
        "channels": (8, 16, 16, 16, 32),
        "hidden": 32,
        "validation_size": 8,
        "log_every": 80,
        "checkpoint_every": 80,
        "workers": 0,
        "device": "cpu",
    }
    settings.update(changes)
    return TrainConfig(**settings)


def test_tiny_network_overfits_a_handful_of_crops(crops_folder, tmp_path):
    weights = train(tiny_config(crops_folder, tmp_path / "run"))

    predictor = Predictor(weights)
    images = [render_word(word, seed=index, height=32) for index, word in enumerate(WORDS)]
    readings = predictor.predict(images)

    assert [r.text for r in readings] == WORDS
    assert all(len(r.char_confidences) == len(r.text) for r in readings)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_resumed_run_ends_with_the_same_weights(crops_folder, tmp_path):
    whole = train(tiny_config(crops_folder, tmp_path / "whole", steps=20, checkpoint_every=10))
    # A run stopped after its checkpoint at step 10, then started again on the same folder.
    halves = tmp_path / "halves"
    first = tiny_config(crops_folder, halves, steps=20, checkpoint_every=10)
    _stop_after(first, steps=10)
    resumed = train(tiny_config(crops_folder, halves, steps=20, checkpoint_every=10))

    expected = torch.load(whole, weights_only=True)["state_dict"]
    actual = torch.load(resumed, weights_only=True)["state_dict"]
    assert all(torch.allclose(expected[key], actual[key], atol=1e-6) for key in expected)


def _stop_after(config: TrainConfig, *, steps: int) -> None:
    """Runs `config` but lets only `steps` batches through, like a run that was killed."""
    import itertools

    from ocr.recognition import training

    original = itertools.islice

    def cut(iterable, *args):
        return original(original(iterable, *args), steps)

    training.itertools.islice = cut
    try:
        train(config)
    finally:
        training.itertools.islice = original


def test_the_upscale_a_model_was_trained_with_travels_in_its_weights(
    crops_folder, tmp_path, monkeypatch
):
    import numpy as np

    from ocr.recognition import predictor as predictor_module
    from ocr.recognition.preprocess import normalize

    # Given a network trained with Lanczos enlarging, then fine-tuned without naming one
    lanczos = train(tiny_config(crops_folder, tmp_path / "first", steps=4, upscale="lanczos"))
    tuned = train(tiny_config(crops_folder, tmp_path / "tuned", steps=4, init_weights=lanczos))
    linear = train(tiny_config(crops_folder, tmp_path / "linear", steps=4))

    # Then both files say Lanczos, a new network's says linear, and so does a file from
    # before the field existed
    assert predictor_module.load_model(lanczos)[0].config.upscale == "lanczos"
    assert predictor_module.load_model(tuned)[0].config.upscale == "lanczos"
    assert predictor_module.load_model(linear)[0].config.upscale == "linear"
    old = torch.load(linear, weights_only=True)
    del old["config"]["upscale"]
    torch.save(old, tmp_path / "old.pt")
    assert predictor_module.load_model(tmp_path / "old.pt")[0].config.upscale == "linear"

    # And a predictor reads a low crop the way its weights were trained to: the two ways
    # give different inputs for small type
    small = render_word("Total", seed=3, height=11)
    gray = np.asarray(small.convert("L"))
    assert not np.array_equal(normalize(gray), normalize(gray, upscale="lanczos"))
    seen = []
    original = predictor_module.normalize

    def spy(image, *, upscale="linear"):
        seen.append(upscale)
        return original(image, upscale=upscale)

    monkeypatch.setattr(predictor_module, "normalize", spy)
    Predictor(lanczos).predict([small])
    Predictor(linear).predict([small])
    assert seen == ["lanczos", "linear"]
