"""CTC decoding and its confidences, on posteriors built by hand."""

import itertools

import numpy as np
import pytest

from ocr.recognition.charset import Charset
from ocr.recognition.ctc import beam_decode, greedy_decode

CHARSET = Charset()
A, B = CHARSET.encode("a")[0], CHARSET.encode("b")[0]
BLANK = 0


def posteriors(frames: list[dict[int, float]]) -> np.ndarray:
    """Each frame's given class probabilities; the rest of the mass on the blank."""
    probs = np.zeros((len(frames), len(CHARSET)))
    for t, frame in enumerate(frames):
        for label, p in frame.items():
            probs[t, label] = p
        probs[t, BLANK] += 1.0 - sum(frame.values())
    return probs


def spelled_by_alignments(probs: np.ndarray, text: str) -> float:
    """The oracle: every path through the frames, summed where it collapses to ``text``."""
    total = 0.0
    for path in itertools.product(*(np.flatnonzero(frame).tolist() for frame in probs)):
        p = float(np.prod([probs[t, label] for t, label in enumerate(path)]))
        merged = [label for i, label in enumerate(path) if i == 0 or label != path[i - 1]]
        if CHARSET.decode([label for label in merged if label != BLANK]) == text:
            total += p
    return total


def test_greedy_merges_repeats_and_keeps_letters_split_by_blank():
    probs = posteriors([{A: 0.9}, {A: 0.8}, {}, {A: 0.7}, {B: 0.6}, {}])

    decoded = greedy_decode(probs, CHARSET)

    assert decoded.text == "aab"
    # A character's confidence is the best frame of its run.
    assert decoded.char_confidences == pytest.approx((0.9, 0.7, 0.6))
    # The word's is the text's probability, summed over every alignment that spells it,
    # more than the best path's alone.
    assert decoded.confidence == pytest.approx(spelled_by_alignments(probs, "aab"))
    assert decoded.confidence > 0.9 * 0.8 * 1.0 * 0.7 * 0.6 * 1.0


def test_greedy_confidence_sums_the_alignments_of_the_text_it_read():
    # "a" is read by the best path aa (0.36), and also by a· and ·a (0.24 each).
    decoded = greedy_decode(posteriors([{A: 0.6}, {A: 0.6}]), CHARSET)

    assert decoded.text == "a"
    assert decoded.confidence == pytest.approx(0.36 + 0.24 + 0.24)
    assert decoded.char_confidences == pytest.approx((0.6,))


def test_greedy_all_blank_reads_nothing_confidently():
    decoded = greedy_decode(posteriors([{}, {A: 0.02}, {}]), CHARSET)

    assert decoded.text == ""
    assert decoded.char_confidences == ()
    assert decoded.confidence == pytest.approx(0.98)


def test_spaces_at_the_ends_are_trimmed_with_their_confidences():
    space = CHARSET.encode("a b")[1]
    decoded = greedy_decode(posteriors([{space: 0.9}, {A: 0.8}, {space: 0.7}, {B: 0.6}]), CHARSET)

    assert decoded.text == "a b"
    assert decoded.char_confidences == pytest.approx((0.8, 0.7, 0.6))


def test_beam_prefers_the_labelling_with_more_total_probability():
    # The best path is blank, blank (0.6 · 0.6 = 0.36), but "a" sums three alignments:
    # a·, ·a and aa, 0.24 + 0.24 + 0.16 = 0.64.
    probs = posteriors([{A: 0.4}, {A: 0.4}])

    greedy = greedy_decode(probs, CHARSET)
    beam = beam_decode(probs, CHARSET, beam_width=4)

    assert greedy.text == ""
    assert beam.text == "a"
    assert beam.confidence == pytest.approx(0.4 * 0.6 + 0.6 * 0.4 + 0.4 * 0.4)
    assert beam.char_confidences == pytest.approx((0.4,))


def test_beam_agrees_with_greedy_on_confident_posteriors():
    probs = posteriors([{A: 0.99}, {}, {A: 0.98}, {B: 0.97}, {B: 0.96}, {}])

    assert beam_decode(probs, CHARSET).text == greedy_decode(probs, CHARSET).text == "aab"


def test_charset_normalizes_what_it_cannot_write():
    assert CHARSET.normalize("\u201cTOTAL\u201d  \u2013 5") == '"TOTAL" - 5'
    assert CHARSET.normalize("caf\u00e9") == "caf"
    assert CHARSET.decode(CHARSET.encode("RM 6.69")) == "RM 6.69"


def test_a_letter_split_between_its_cases_is_read_case_blind():
    from ocr.recognition.ctc import case_pairs, fold_case

    small_a, capital_a = CHARSET.encode("a")[0], CHARSET.encode("A")[0]
    paren = CHARSET.encode("(")[0]
    # The frame prefers "(" to either form of the letter, not to the two together.
    probs = posteriors([{capital_a: 0.3, small_a: 0.25, paren: 0.4}, {}])

    assert greedy_decode(probs, CHARSET).text == "("
    folded = fold_case(probs, *case_pairs(CHARSET))
    assert greedy_decode(folded, CHARSET).text == "A"  # the case the frame preferred
    assert np.allclose(folded.sum(axis=1), 1.0)
    assert folded[0, capital_a] == pytest.approx(0.55)
    assert folded[0, small_a] == 0.0


def test_case_blind_reading_keeps_a_small_letter_small_and_leaves_other_classes():
    from ocr.recognition.ctc import case_pairs, fold_case

    small_b, capital_b = CHARSET.encode("b")[0], CHARSET.encode("B")[0]
    eight = CHARSET.encode("8")[0]
    probs = posteriors([{small_b: 0.35, capital_b: 0.2, eight: 0.4}, {}])

    folded = fold_case(probs, *case_pairs(CHARSET))

    assert greedy_decode(folded, CHARSET).text == "b"
    assert folded[0, eight] == probs[0, eight]
    assert folded[0, BLANK] == probs[0, BLANK]
    lower, upper = case_pairs(CHARSET)
    assert len(lower) == len(upper) == 26
    assert CHARSET.decode(lower.tolist()).upper() == CHARSET.decode(upper.tolist())
