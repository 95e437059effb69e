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

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ocr.recognition.charset import BLANK, Charset

# The beam extends no prefix by a class under this posterior in a frame.
PRUNE = 1e-3


@dataclass(frozen=True)
class Decoded:
    """Text read from one crop, its confidence and one confidence per character."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    # True when the lexicon replaced the network's best reading (`ocr.recognition.lexicon`):
    # such a reading's probability is low by construction, which calibration corrects.
    lexicon: bool = False


def case_pairs(charset: Charset) -> tuple[np.ndarray, np.ndarray]:
    """Class indices of the letters that have both cases in ``charset``: (lower, upper),
    aligned (``lower[i]`` is the small form of ``upper[i]``)."""
    index = {char: i + 1 for i, char in enumerate(charset.characters)}
    pairs = [
        (index[char], index[char.upper()])
        for char in charset.characters
        if char.islower() and char.upper() in index and char.upper() != char
    ]
    return np.array([lower for lower, _ in pairs]), np.array([upper for _, upper in pairs])


def fold_case(probs: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Posteriors (..., classes) with each letter's two cases as one class: in every frame
    the pair's summed probability goes to the likelier of its two forms, the other gets 0.

    The network often splits a letter's probability between its cases (an upper-case
    receipt word read "Totdl", "(ST": the small and capital forms of the right letter each
    lose to a third class that neither beats together); read case-blind, the letter wins
    and keeps the case the frame preferred. Rows still sum to 1."""
    folded = probs.copy()
    small, capital = probs[..., lower], probs[..., upper]
    both = small + capital
    keep_capital = capital >= small
    folded[..., upper] = np.where(keep_capital, both, 0.0)
    folded[..., lower] = np.where(keep_capital, 0.0, both)
    return folded


def greedy_decode(probs: np.ndarray, charset: Charset) -> Decoded:
    """Best-path decoding of one crop's posteriors, shape (T, classes), rows summing to 1."""
    indices, confidences = greedy_labelling(probs)
    return _decoded(charset, indices, labelling_probability(probs, indices), confidences)


def greedy_decode_batch(
    probs: np.ndarray, lengths: Sequence[int], charset: Charset
) -> list[Decoded]:
    """`greedy_decode` of each row of a batch, ``probs`` (N, T, classes) with row i's first
    ``lengths[i]`` frames its own: the same readings, their probabilities computed in one
    ``ctc_loss`` call (`labelling_probabilities`)."""
    paths = [greedy_labelling(probs[row, :length]) for row, length in enumerate(lengths)]
    probabilities = labelling_probabilities(probs, lengths, [indices for indices, _ in paths])
    return [
        _decoded(charset, indices, probability, confidences)
        for (indices, confidences), probability in zip(paths, probabilities, strict=True)
    ]


def greedy_labelling(probs: np.ndarray) -> tuple[list[int], list[float]]:
    """The best path's labelling (repeats merged, blanks dropped) and each character's
    highest posterior over the frames that emitted it."""
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
    return indices, confidences


def labelling_probability(probs: np.ndarray, indices: list[int]) -> float:
    """P(the labelling ``indices`` | posteriors ``probs`` (T, classes)): the sum over every
    alignment of T frames that collapses to it (repeats merged, blanks dropped)."""
    return labelling_probabilities(probs[np.newaxis], [len(probs)], [indices])[0]


def labelling_probabilities(
    probs: np.ndarray, lengths: Sequence[int], labellings: Sequence[Sequence[int]]
) -> list[float]:
    """`labelling_probability` of each row of a batch in one ``ctc_loss`` call: ``probs``
    (N, T, classes), row i's first ``lengths[i]`` frames and its labelling
    ``labellings[i]``. Each row's figure is the one it gets alone (the loss is computed row
    by row over its own frames only)."""
    log_probs = torch.from_numpy(np.log(np.clip(probs, 1e-30, 1.0))).permute(1, 0, 2)
    targets = torch.zeros((len(labellings), max(map(len, labellings), default=0)), dtype=torch.long)
    for row, indices in enumerate(labellings):
        targets[row, : len(indices)] = torch.tensor(indices, dtype=torch.long)
    negative_log = F.ctc_loss(
        log_probs,
        targets,
        input_lengths=torch.tensor(list(lengths), dtype=torch.long),
        target_lengths=torch.tensor([len(indices) for indices in labellings], dtype=torch.long),
        blank=BLANK,
        reduction="none",
    )
    return [math.exp(-value) for value in negative_log.tolist()]


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


def beam_decode(
    probs: np.ndarray, charset: Charset, *, beam_width: int = 8, prune: float = PRUNE
) -> Decoded:
    """Prefix beam search's best labelling (see `beam_candidates`)."""
    return beam_candidates(probs, charset, beam_width=beam_width, prune=prune)[0][1]


def beam_candidates(
    probs: np.ndarray, charset: Charset, *, beam_width: int = 8, prune: float = PRUNE
) -> list[tuple[tuple[int, ...], Decoded]]:
    """Prefix beam search: the labellings left in the beam after the last frame, likeliest
    first, each as its class indices and its reading. Classes under `prune` in a frame are
    not extended there.

    A reading's confidence is the labelling's probability summed over the alignments the
    beam kept. A character's confidence is its posterior in the frame where it entered the
    prefix, raised by later frames that repeat it.

    Each beam is a list [blank, label, char_confidences]: the probability of the prefix
    with its last frame a blank, with its last frame its last character, and the
    confidences of the likeliest alignment merged into it.
    """
    beams: dict[tuple[int, ...], list] = {(): [1.0, 0.0, ()]}
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
                prefix: [(blank + label) * p, 0.0, chars]
                for prefix, (blank, label, chars) in beams.items()
            }
            continue
        # Each alignment's probability is added to its prefix's blank (slot 0) or label
        # (slot 1) probability; the likelier alignment's confidences are kept.
        following: dict[tuple[int, ...], list] = {}
        entry_of = following.get
        for prefix, (blank, label_p, chars) in beams.items():
            total = blank + label_p
            last = prefix[-1] if prefix else BLANK
            for label, p in classes:
                if label == BLANK:
                    q = total * p
                    entry = entry_of(prefix)
                    if entry is None:
                        following[prefix] = [q, 0.0, chars]
                    else:
                        if q > entry[0] + entry[1] or not entry[2]:
                            entry[2] = chars
                        entry[0] += q
                    continue
                if label == last:
                    # Without a blank between, a repeat continues the same character.
                    q = label_p * p
                    entry = entry_of(prefix)
                    if entry is None:
                        following[prefix] = [0.0, q, (*chars[:-1], max(chars[-1], p))]
                    else:
                        if q > entry[0] + entry[1] or not entry[2]:
                            entry[2] = (*chars[:-1], max(chars[-1], p))
                        entry[1] += q
                    q = blank * p
                else:
                    q = total * p
                extended = (*prefix, label)
                entry = entry_of(extended)
                if entry is None:
                    following[extended] = [0.0, q, (*chars, p)]
                else:
                    if q > entry[0] + entry[1] or not entry[2]:
                        entry[2] = (*chars, p)
                    entry[1] += q
        beams = dict(heapq.nsmallest(beam_width, following.items(), key=_likeliest))
    return [
        (prefix, _decoded(charset, list(prefix), blank + label, list(chars)))
        for prefix, (blank, label, chars) in sorted(beams.items(), key=_likeliest)
    ]


def _likeliest(item: tuple[tuple[int, ...], list]) -> float:
    return -(item[1][0] + item[1][1])
