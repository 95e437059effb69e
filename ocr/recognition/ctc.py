"""CTC post-processing: posteriors (frames × classes) → text with word and character confidences.

Kept apart from the network (docTR's split) so it can be tested on hand-built posteriors.

- Greedy: the best class per frame, repeats merged, blanks dropped. A character's
  confidence is the highest posterior over the frames that emitted it; the word's is the
  probability of the text read, summed over every alignment that spells it (the CTC
  forward algorithm, torch's ``ctc_loss``). The best path's probability alone is far
  below it wherever a frame hesitates between a letter and the blank beside it, which
  changes no letter: on real receipt words it was right 80% of the time at 0.45 and
  accepted 19% of words at 98% precision; the text's probability is right about as often
  as it says (0.45: 56%, 0.85: 93%, 0.97: 97%) and accepts 44% there.
- Beam (prefix beam search): the labelling with the highest total probability, summed
  over all its alignments; that probability is the word's confidence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ocr.recognition.charset import BLANK, Charset


@dataclass(frozen=True)
class Decoded:
    """Text read from one crop, its confidence and one confidence per character."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    # True when the lexicon replaced the network's best reading (`ocr.recognition.lexicon`):
    # such a reading's probability is low by construction, which calibration corrects.
    lexicon: bool = False


def greedy_decode(probs: np.ndarray, charset: Charset) -> Decoded:
    """Best-path decoding of one crop's posteriors, shape (T, classes), rows summing to 1."""
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
    return _decoded(charset, indices, labelling_probability(probs, indices), confidences)


def labelling_probability(probs: np.ndarray, indices: list[int]) -> float:
    """P(the labelling ``indices`` | posteriors ``probs`` (T, classes)): the sum over every
    alignment of T frames that collapses to it (repeats merged, blanks dropped)."""
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


def _decoded(
    charset: Charset, indices: list[int], confidence: float, confidences: list[float]
) -> Decoded:
    text = charset.decode(indices)
    # Spaces are classes like any other, so text and confidences stay aligned; trim the ends.
    start = len(text) - len(text.lstrip(" "))
    end = len(text.rstrip(" "))
    return Decoded(
        text=text[start:end],
        confidence=min(1.0, max(0.0, confidence)),
        char_confidences=tuple(min(1.0, c) for c in confidences[start:end]),
    )


@dataclass
class _Beam:
    blank: float = 0.0  # probability of the prefix with its last frame a blank
    label: float = 0.0  # … with its last frame its last character
    char_confidences: tuple[float, ...] = ()

    @property
    def total(self) -> float:
        return self.blank + self.label


def beam_decode(
    probs: np.ndarray, charset: Charset, *, beam_width: int = 8, prune: float = 1e-3
) -> Decoded:
    """Prefix beam search's best labelling (see `beam_candidates`)."""
    return beam_candidates(probs, charset, beam_width=beam_width, prune=prune)[0][1]


def beam_candidates(
    probs: np.ndarray, charset: Charset, *, beam_width: int = 8, prune: float = 1e-3
) -> list[tuple[tuple[int, ...], Decoded]]:
    """Prefix beam search: the labellings left in the beam after the last frame, likeliest
    first, each as its class indices and its reading. Classes under `prune` in a frame are
    not extended there.

    A reading's confidence is the labelling's probability summed over the alignments the
    beam kept. A character's confidence is its posterior in the frame where it entered the
    prefix, raised by later frames that repeat it.
    """
    beams: dict[tuple[int, ...], _Beam] = {(): _Beam(blank=1.0)}
    rows, columns = np.nonzero(probs >= prune)
    kept = probs[rows, columns].tolist()
    frames: list[list[tuple[int, float]]] = [[] for _ in range(len(probs))]
    for row, label, p in zip(rows.tolist(), columns.tolist(), kept, strict=True):
        frames[row].append((label, p))
    for classes in frames:
        if len(classes) == 1 and classes[0][0] == BLANK:
            # A frame sure of the blank (most of them): every prefix stays as it is.
            p = classes[0][1]
            beams = {
                prefix: _Beam(blank=beam.total * p, char_confidences=beam.char_confidences)
                for prefix, beam in beams.items()
            }
            continue
        following: dict[tuple[int, ...], _Beam] = defaultdict(_Beam)
        for prefix, beam in beams.items():
            for label, p in classes:
                if label == BLANK:
                    _merge(following[prefix], blank=beam.total * p, chars=beam.char_confidences)
                elif prefix and label == prefix[-1]:
                    # Without a blank between, a repeat continues the same character.
                    raised = (*beam.char_confidences[:-1], max(beam.char_confidences[-1], p))
                    _merge(following[prefix], label=beam.label * p, chars=raised)
                    chars = (*beam.char_confidences, p)
                    _merge(following[(*prefix, label)], label=beam.blank * p, chars=chars)
                else:
                    chars = (*beam.char_confidences, p)
                    _merge(following[(*prefix, label)], label=beam.total * p, chars=chars)
        ranked = sorted(following.items(), key=lambda item: -item[1].total)[:beam_width]
        beams = dict(ranked)
    ranked = sorted(beams.items(), key=lambda item: -item[1].total)
    return [
        (prefix, _decoded(charset, list(prefix), beam.total, list(beam.char_confidences)))
        for prefix, beam in ranked
    ]


def _merge(
    entry: _Beam, *, blank: float = 0.0, label: float = 0.0, chars: tuple[float, ...]
) -> None:
    """Adds an alignment's probability; the likelier alignment's confidences are kept."""
    if blank + label > entry.total or not entry.char_confidences:
        entry.char_confidences = chars
    entry.blank += blank
    entry.label += label
