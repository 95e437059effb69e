"""The synthetic word renderer: deterministic per seed, varied across seeds, honest labels."""

import numpy as np

from ocr.synth import fonts
from ocr.synth.contact_sheet import contact_sheet
from ocr.synth.render import render_sample


def test_same_seed_gives_the_same_crop_and_text():
    for seed in (0, 1, 42, 12345):
        first, again = render_sample(seed), render_sample(seed)

        assert first.text == again.text
        assert np.array_equal(first.image, again.image)


def test_seeds_give_varied_crops():
    samples = [render_sample(seed) for seed in range(200)]

    assert len({s.text for s in samples}) > 150
    assert len({s.image.shape for s in samples}) > 100
    assert all(s.image.dtype == np.uint8 and s.image.ndim == 2 for s in samples)
    assert all(s.image.shape[0] >= 4 and s.image.shape[1] >= 4 for s in samples)


def test_some_samples_are_negatives_labelled_empty():
    texts = [render_sample(seed).text for seed in range(400)]

    assert 2 <= texts.count("") <= 40


def test_given_text_is_rendered_with_ink():
    sample = render_sample(5, text="TOTAL:")

    assert sample.text == "TOTAL:"
    # Ink differs from the surface: the crop is not one flat tone.
    assert int(sample.image.max()) - int(sample.image.min()) > 40


def test_fonts_are_found_by_searching_and_weighted():
    catalogue = fonts.font_catalogue()

    assert catalogue, "install the font packages in scripts/system-deps.sh"
    assert all(choice.weight > 0 for choice in catalogue)
    assert not any(choice.path.stem.startswith("Z003") for choice in catalogue)
    assert fonts.classify(catalogue[0].path.with_name("LiberationMono-Bold.ttf")).style == "mono"


def test_contact_sheet_tiles_every_sample():
    sheet = contact_sheet(count=8, columns=4, seed=0)

    assert sheet.size == (4 * 240, 2 * 64)
