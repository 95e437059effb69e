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


def test_small_print_shrinks_a_crop_to_scanned_type_of_8_to_18_pixels():
    from ocr.synth.transforms import small_print

    # Given tall word crops
    crops = [render_sample(seed, text="Payment").image for seed in range(30)]

    # When each is made small print with its own seeded generator (twice)
    first = [small_print(np.random.default_rng(seed), crop) for seed, crop in enumerate(crops)]
    again = [small_print(np.random.default_rng(seed), crop) for seed, crop in enumerate(crops)]

    # Then each is 8-18 pixels high, its width scaled with it, the same for the same seed,
    # and most are bilevel (black and white only) as a fax or a 1-bit scan stores them
    for crop, small, replay in zip(crops, first, again, strict=True):
        assert 8 <= small.shape[0] <= 18
        assert abs(small.shape[1] / small.shape[0] - crop.shape[1] / crop.shape[0]) < 1.0
        assert small.dtype == np.uint8
        assert np.array_equal(small, replay)
    bilevel = sum(set(np.unique(small)) <= {0, 255} for small in first)
    assert 12 <= bilevel < 30


def test_synthetic_words_are_the_generators_own_without_small_print():
    from ocr.recognition.charset import Charset
    from ocr.recognition.data import SyntheticWords
    from ocr.recognition.preprocess import normalize

    charset = Charset()
    plain = SyntheticWords(charset, first_seed=700, length=20)
    small = SyntheticWords(charset, first_seed=700, length=20, small_print_share=1.0)

    # Without small print, item i is exactly the generator's sample (the first stage of
    # `make train`, which must reproduce its weights, reads these)
    for index in range(20):
        sample = render_sample(700 + index)
        image, target = plain[index]
        assert np.array_equal(image, normalize(sample.image))
        assert target == charset.encode(sample.text)

    # With it, the same texts on shrunk crops: different pixels, same labels, replayable
    changed = 0
    for index in range(20):
        image, target = small[index]
        assert target == plain[index][1]
        assert np.array_equal(image, small[index][0])
        changed += not np.array_equal(image, plain[index][0])
    assert changed >= 15


def test_synthetic_words_can_be_cut_to_their_ink_as_reading_cuts_real_crops():
    from ocr.recognition.charset import Charset
    from ocr.recognition.data import SyntheticWords
    from ocr.recognition.preprocess import cut_to_ink, normalize

    cut = SyntheticWords(Charset(), first_seed=900, length=30, cut=True, upscale="lanczos")

    narrower = 0
    for index in range(30):
        sample = render_sample(900 + index)
        image, _ = cut[index]
        expected = normalize(cut_to_ink(sample.image), upscale="lanczos")
        assert np.array_equal(image, expected)
        narrower += image.shape[1] < normalize(sample.image).shape[1]
    # loose synthetic crops lose their margins (tight ones and empty ones stay as they were)
    assert narrower >= 5
