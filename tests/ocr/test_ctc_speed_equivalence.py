"""The faster decoding (one batched ``ctc_loss`` per predictor chunk, the beam search on
plain lists) reads exactly what the decoding before it read: the old functions are kept
here, as they were, and compared reading by reading."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ocr.recognition.charset import BLANK, Charset
from ocr.recognition.ctc import (
    Decoded,
    _decoded,
    beam_candidates,
    greedy_decode,
    greedy_decode_batch,
    labelling_probabilities,
    labelling_probability,
)
from ocr.recognition.lexicon import BEAM_WIDTH, RATIO, Lexicon, _marks
from ocr.recognition.lexicon import load as load_lexicon
from ocr.recognition.predictor import Predictor
from ocr.synthetic import render_word

CHARSET = Charset()

# --- The decoding as it was -------------------------------------------------------------


def old_labelling_probability(probs: np.ndarray, indices: list[int]) -> float:
    log_probs = torch.from_numpy(np.log(np.clip(probs, 1e-30, 1.0))).unsqueeze(1)
    negative_log = F.ctc_loss(
        log_probs,
        torch.tensor([indices], dtype=torch.long).reshape(1, len(indices)),
        input_lengths=torch.tensor([len(probs)]),
        target_lengths=torch.tensor([len(indices)]),
        blank=BLANK,
        reduction="none",
    )
    return math.exp(-float(negative_log[0]))


def old_greedy_decode(probs: np.ndarray, charset: Charset) -> Decoded:
    best = probs.argmax(axis=1)
    best_probs = probs[np.arange(len(best)), best]
    indices: list[int] = []
    confidences: list[float] = []
    previous = BLANK
    for label, prob in zip(best.tolist(), best_probs.tolist(), strict=True):
        if label != BLANK and label == previous:
            confidences[-1] = max(confidences[-1], prob)
        elif label != BLANK:
            indices.append(label)
            confidences.append(prob)
        previous = label
    return _decoded(charset, indices, old_labelling_probability(probs, indices), confidences)


@dataclass
class _OldBeam:
    blank: float = 0.0
    label: float = 0.0
    char_confidences: tuple[float, ...] = ()

    @property
    def total(self) -> float:
        return self.blank + self.label


def _old_merge(
    entry: _OldBeam, *, blank: float = 0.0, label: float = 0.0, chars: tuple[float, ...]
) -> None:
    if blank + label > entry.total or not entry.char_confidences:
        entry.char_confidences = chars
    entry.blank += blank
    entry.label += label


def old_beam_candidates(
    probs: np.ndarray, charset: Charset, *, beam_width: int = 8, prune: float = 1e-3
) -> list[tuple[tuple[int, ...], Decoded]]:
    beams: dict[tuple[int, ...], _OldBeam] = {(): _OldBeam(blank=1.0)}
    rows, columns = np.nonzero(probs >= prune)
    kept = probs[rows, columns].tolist()
    frames: list[list[tuple[int, float]]] = [[] for _ in range(len(probs))]
    for row, label, p in zip(rows.tolist(), columns.tolist(), kept, strict=True):
        frames[row].append((label, p))
    for classes in frames:
        if len(classes) == 1 and classes[0][0] == BLANK:
            p = classes[0][1]
            beams = {
                prefix: _OldBeam(blank=beam.total * p, char_confidences=beam.char_confidences)
                for prefix, beam in beams.items()
            }
            continue
        following: dict[tuple[int, ...], _OldBeam] = defaultdict(_OldBeam)
        for prefix, beam in beams.items():
            for label, p in classes:
                if label == BLANK:
                    _old_merge(following[prefix], blank=beam.total * p, chars=beam.char_confidences)
                elif prefix and label == prefix[-1]:
                    raised = (*beam.char_confidences[:-1], max(beam.char_confidences[-1], p))
                    _old_merge(following[prefix], label=beam.label * p, chars=raised)
                    chars = (*beam.char_confidences, p)
                    _old_merge(following[(*prefix, label)], label=beam.blank * p, chars=chars)
                else:
                    chars = (*beam.char_confidences, p)
                    _old_merge(following[(*prefix, label)], label=beam.total * p, chars=chars)
        ranked = sorted(following.items(), key=lambda item: -item[1].total)[:beam_width]
        beams = dict(ranked)
    ranked = sorted(beams.items(), key=lambda item: -item[1].total)
    return [
        (prefix, _decoded(charset, list(prefix), beam.total, list(beam.char_confidences)))
        for prefix, beam in ranked
    ]


def old_lexicon_decode(lexicon: Lexicon, probs: np.ndarray, charset: Charset) -> Decoded:
    greedy = old_greedy_decode(probs, charset)
    if not lexicon.questions(greedy.text):
        return greedy
    marks = _marks(greedy.text)
    candidates = old_beam_candidates(probs, charset, beam_width=BEAM_WIDTH)
    best = candidates[0][1].confidence
    for indices, candidate in candidates:
        if candidate.confidence < RATIO * best:
            break
        if candidate.text in lexicon and _marks(candidate.text) <= marks:
            return Decoded(
                text=candidate.text,
                confidence=old_labelling_probability(probs, list(indices)),
                char_confidences=candidate.char_confidences,
                lexicon=True,
            )
    return greedy


# --- Posteriors -------------------------------------------------------------------------


def hesitant_posteriors(rng: np.random.Generator, frames: int) -> np.ndarray:
    """float32 posteriors like the network's: mostly sure of the blank, some frames torn
    between a few letters (and the blank), a few with many small classes above the prune."""
    classes = len(CHARSET)
    logits = rng.normal(0.0, 1.0, (frames, classes)).astype(np.float32)
    logits[:, BLANK] += 9.0
    for t in np.flatnonzero(rng.random(frames) < 0.45):
        letters = rng.choice(np.arange(1, classes), size=rng.integers(1, 4), replace=False)
        logits[t, letters] += rng.uniform(7.0, 12.0, len(letters))
    for t in np.flatnonzero(rng.random(frames) < 0.1):
        logits[t] = rng.normal(0.0, 1.0, classes)
    log_probs = torch.from_numpy(logits).log_softmax(-1)
    return log_probs.exp().numpy()


def padded(rows: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Rows padded with blank-sure frames, as a predictor chunk's posteriors are."""
    longest = max(len(row) for row in rows)
    batch = np.zeros((len(rows), longest, len(CHARSET)), np.float32)
    batch[:, :, BLANK] = 1.0
    for i, row in enumerate(rows):
        batch[i, : len(row)] = row
    return batch, [len(row) for row in rows]


def assert_same(new: Decoded, old: Decoded) -> None:
    assert new.text == old.text
    assert new.lexicon == old.lexicon
    assert new.char_confidences == old.char_confidences
    assert new.confidence == old.confidence


# --- Equivalence ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_greedy_and_beam_read_what_they_read_before(seed: int):
    rng = np.random.default_rng(seed)
    probs = hesitant_posteriors(rng, int(rng.integers(1, 60)))

    assert_same(greedy_decode(probs, CHARSET), old_greedy_decode(probs, CHARSET))
    for width in (1, 4, BEAM_WIDTH):
        new = beam_candidates(probs, CHARSET, beam_width=width)
        old = old_beam_candidates(probs, CHARSET, beam_width=width)
        assert [indices for indices, _ in new] == [indices for indices, _ in old]
        for (_, one), (_, other) in zip(new, old, strict=True):
            assert_same(one, other)


def test_one_batched_ctc_loss_gives_each_row_its_own_probability_bit_for_bit():
    rng = np.random.default_rng(7)
    rows = [hesitant_posteriors(rng, int(rng.integers(1, 80))) for _ in range(64)]
    labellings = [old_greedy_decode_indices(row) for row in rows]
    labellings[3] = []  # the empty labelling, and one that no path spells
    labellings[5] = [1, 1, 1] * 40
    batch, lengths = padded(rows)

    batched = labelling_probabilities(batch, lengths, labellings)

    assert batched == [
        old_labelling_probability(row, labels) for row, labels in zip(rows, labellings, strict=True)
    ]
    assert labelling_probability(rows[0], labellings[0]) == batched[0]


def old_greedy_decode_indices(probs: np.ndarray) -> list[int]:
    best = probs.argmax(axis=1).tolist()
    return [
        label for i, label in enumerate(best) if label != BLANK and (i == 0 or label != best[i - 1])
    ]


def test_the_greedy_batch_reads_row_by_row_what_it_read_before():
    rng = np.random.default_rng(5)
    rows = [hesitant_posteriors(rng, int(rng.integers(1, 50))) for _ in range(48)]
    batch, lengths = padded(rows)

    readings = greedy_decode_batch(batch, lengths, CHARSET)

    for new, row in zip(readings, rows, strict=True):
        assert_same(new, old_greedy_decode(row, CHARSET))


def test_the_lexicon_batch_reads_row_by_row_what_it_read_before():
    rng = np.random.default_rng(11)
    rows = [hesitant_posteriors(rng, int(rng.integers(1, 50))) for _ in range(48)]
    batch, lengths = padded(rows)
    lexicon = load_lexicon()

    readings = lexicon.decode_batch(batch, lengths, CHARSET)

    for new, row in zip(readings, rows, strict=True):
        assert_same(new, old_lexicon_decode(lexicon, row, CHARSET))
        assert_same(lexicon.decode(row, CHARSET), new)


class Recording(Predictor):
    """A predictor that keeps each chunk's posteriors, to decode them the old way."""

    chunks: list[tuple[np.ndarray, list[int], list[Decoded]]]

    def _decode(self, probs, lengths):
        readings = super()._decode(probs, lengths)
        self.chunks.append((probs.copy(), list(lengths), readings))
        return readings


def noisy_crops() -> list[Image.Image]:
    """Words the lexicon knows, near misses it questions, numbers and codes; clean, faint,
    blurred and speckled, so that many readings hesitate."""
    words = [
        "TOTAL", "Cornpany", "NUMBFR:", "receipt", "Thank", "you", "RM6.69", "12/03/2018",
        "GST", "Qty", "Tbank", "Amnount", "CHANGE", "Cashier", "Invoice#", "0012345",
        "Subtotal", "Rounding", "discnt", "Sdn.", "Bhd.", "KUALA", "LUMPUR", "x2",
    ]  # fmt: skip
    rng = np.random.default_rng(3)
    crops: list[Image.Image] = []
    for seed, word in enumerate(words * 3):
        image = np.asarray(render_word(word, seed=seed), np.float32)
        kind = seed % 4
        if kind == 1:
            image = 255 - (255 - image) * 0.35
        elif kind == 2:
            image = image + rng.normal(0.0, 60.0, image.shape)
        elif kind == 3:
            image = np.where(rng.random(image.shape) < 0.08, 255 - image, image)
        crops.append(Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)))
    return crops


@pytest.mark.parametrize(("lexicon", "beam_width"), [(True, 0), (False, 0), (False, 8)])
def test_the_predictor_reads_real_posteriors_as_it_did(lexicon: bool, beam_width: int):
    predictor = Recording(lexicon=lexicon, beam_width=beam_width, batch_size=16)
    predictor.chunks = []
    shipped = load_lexicon()

    predictor.predict(noisy_crops())
    charset = predictor.charset

    assert len(predictor.chunks) > 1
    questioned = 0
    for probs, lengths, readings in predictor.chunks:
        for row, (length, new) in enumerate(zip(lengths, readings, strict=True)):
            own = probs[row, :length]
            if lexicon:
                questioned += shipped.questions(old_greedy_decode(own, charset).text)
                old = old_lexicon_decode(shipped, own, charset)
            elif beam_width:
                old = old_beam_candidates(own, charset, beam_width=beam_width)[0][1]
            else:
                old = old_greedy_decode(own, charset)
            assert_same(new, old)
    assert not lexicon or questioned > 0
