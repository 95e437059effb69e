"""The corpus generators: check digits that scanners accept, formats documents print."""

import random
import re

import pytest

from ocr.synth import corpus


@pytest.mark.parametrize(
    ("body", "check"),
    [("400638133393", "1"), ("978030640615", "7"), ("955736806301", "3"), ("000000000000", "0")],
)
def test_ean13_check_digit_matches_published_codes(body, check):
    assert corpus.ean13_check_digit(body) == check


@pytest.mark.parametrize(("body", "check"), [("03600029145", "2"), ("01234567890", "5")])
def test_upca_check_digit_matches_published_codes(body, check):
    assert corpus.upca_check_digit(body) == check


def test_check_digit_rejects_wrong_length():
    with pytest.raises(ValueError, match="12 digits"):
        corpus.ean13_check_digit("12345")
    with pytest.raises(ValueError, match="11 digits"):
        corpus.upca_check_digit("12a45678901")


def _gs1_valid(code: str) -> bool:
    # Weights 3, 1, 3, … from the right, check digit included, sum to a multiple of 10.
    digits = [int(d) for d in reversed(code)]
    return sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def test_product_codes_are_valid_ean13_or_upca():
    rng = random.Random(1)
    codes = [corpus.product_code(rng) for _ in range(300)]

    assert {len(code) for code in codes} == {12, 13}
    assert all(code.isdigit() and _gs1_valid(code) for code in codes)


@pytest.mark.parametrize(
    ("generator", "pattern"),
    [
        (corpus.price, r"^(\$|RM|€|£|¥|S\$|USD|-)?\d{1,3}(,?\d{3})*\.\d{1,2}(SR|ZR|S|Z|\*|T)?$"),
        (corpus.time_of_day, r"^\d{1,2}:\d{2}(:\d{2}|AM|PM|am|pm)?$"),
        (corpus.phone_number, r"^[+(]?[\d()+.-]{7,16}$"),
        (
            corpus.date,
            r"^(\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\d{2}-[A-Z][a-z]{2}-\d{4}|\d{2}[A-Z]{3}\d{2})$",
        ),
    ],
)
def test_formats_look_like_printed_tokens(generator, pattern):
    rng = random.Random(7)
    for _ in range(300):
        token = generator(rng)
        assert re.match(pattern, token), token


def test_tokens_have_no_spaces_except_phrases():
    rng = random.Random(3)
    names = [name for name in corpus.GENERATORS if name != "phrase"]
    for name in names:
        generator, _ = corpus.GENERATORS[name]
        for _ in range(100):
            token = generator(rng)
            assert token
            assert " " not in token, (name, token)


def test_common_words_come_first_by_zipf_weight():
    rng = random.Random(0)
    words = [corpus.english_word(rng).lower() for _ in range(5000)]

    assert words.count("the") > words.count("returnable") * 5
    assert words.count("the") > 50


def test_sample_text_is_deterministic_per_seed():
    assert [corpus.sample_text(random.Random(s)) for s in range(50)] == [
        corpus.sample_text(random.Random(s)) for s in range(50)
    ]
