"""Consensus over several people's labels of one word crop, and how reliable each person is.

Django-free, so it is tested on hand-made label sets alone. Beyond majority votes that
compare whole strings:

- texts are normalised (Unicode NFKC, whitespace) before they are compared;
- the consensus text is voted character by character (ROVER style): every label is aligned
  to the weighted medoid label by edit distance, and each position (and each gap between
  positions, for insertions) takes the heaviest character, so three labels that each have
  one different typo still yield the right word;
- votes are weighted by each annotator's estimated reliability (``estimate_reliability``:
  a one-coin Dawid-Skene estimate, started from gold accuracy where known);
- flags (rotated, non-English, unreadable) are voted separately.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

FLAGS = ("rotated", "non_english", "unreadable")
DEFAULT_WEIGHT = 1.0
_GAP = ""  # a deleted character, in the alignment


@dataclass(frozen=True)
class Vote:
    annotator: str
    text: str
    rotated: bool = False
    non_english: bool = False
    unreadable: bool = False


@dataclass(frozen=True)
class Consensus:
    text: str
    confidence: float  # weighted share of the votes that say exactly ``text``, in [0, 1]
    flags: dict[str, bool]
    accepted: bool
    agreeing: int  # votes whose normalised text equals ``text``
    reason: str = ""  # why it needs review, when not accepted
    per_vote_agrees: dict[str, bool] = field(default_factory=dict)


def normalize(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _medoid(texts: Sequence[str], weights: Sequence[float]) -> str:
    """The label with the least weighted edit distance to all the others."""
    best, best_cost = texts[0], math.inf
    for candidate in dict.fromkeys(texts):
        cost = sum(
            w * Levenshtein.distance(candidate, other)
            for other, w in zip(texts, weights, strict=True)
        )
        if cost < best_cost:
            best, best_cost = candidate, cost
    return best


def _aligned(center: str, text: str) -> tuple[list[str], list[str]]:
    """``text`` against ``center``: the character at each center position ("" if deleted)
    and what was inserted before each position (and after the last, at index len)."""
    at = list(center)
    inserted = [""] * (len(center) + 1)
    for op in Levenshtein.opcodes(center, text):
        if op.tag == "replace":
            # Unequal lengths: the extra characters are insertions after the block.
            for offset in range(op.src_end - op.src_start):
                dest = op.dest_start + offset
                at[op.src_start + offset] = text[dest] if dest < op.dest_end else _GAP
            extra = text[op.dest_start + (op.src_end - op.src_start) : op.dest_end]
            inserted[op.src_end] += extra
        elif op.tag == "delete":
            for position in range(op.src_start, op.src_end):
                at[position] = _GAP
        elif op.tag == "insert":
            inserted[op.src_start] += text[op.dest_start : op.dest_end]
    return at, inserted


def _heaviest(choices: Mapping[str, float]) -> tuple[str, bool]:
    """The heaviest choice, and whether it is a tie."""
    ranked = sorted(choices.items(), key=lambda item: (-item[1], item[0]))
    tie = len(ranked) > 1 and math.isclose(ranked[0][1], ranked[1][1])
    return ranked[0][0], tie


def vote_text(texts: Sequence[str], weights: Sequence[float]) -> tuple[str, bool]:
    """Character-by-character weighted vote; returns the text and whether any vote tied."""
    center = _medoid(texts, weights)
    at_votes = [defaultdict(float) for _ in center]
    gap_votes = [defaultdict(float) for _ in range(len(center) + 1)]
    for text, weight in zip(texts, weights, strict=True):
        at, inserted = _aligned(center, text)
        for position, char in enumerate(at):
            at_votes[position][char] += weight
        for position, chars in enumerate(inserted):
            gap_votes[position][chars] += weight
    tied = False
    out = []
    for position in range(len(center) + 1):
        chars, tie = _heaviest(gap_votes[position])
        tied |= tie
        out.append(chars)
        if position < len(center):
            char, tie = _heaviest(at_votes[position])
            tied |= tie
            out.append(char)
    return "".join(out), tied


def consensus(
    votes: Sequence[Vote],
    *,
    weights: Mapping[str, float] | None = None,
    required: int = 2,
    min_confidence: float = 0.66,
) -> Consensus:
    """The crop's consensus; ``accepted`` when at least ``required`` votes say exactly it,
    they carry ``min_confidence`` of the weight, and no text or flag vote tied."""
    if not votes:
        raise ValueError("consensus needs at least one vote")
    weights = weights or {}
    vote_weights = [max(weights.get(vote.annotator, DEFAULT_WEIGHT), 1e-6) for vote in votes]
    total = sum(vote_weights)
    flags = {}
    flag_tied = False
    for name in FLAGS:
        yes = sum(w for vote, w in zip(votes, vote_weights, strict=True) if getattr(vote, name))
        flags[name] = yes > total / 2
        flag_tied |= math.isclose(yes, total / 2)
    readable = [
        (normalize(v.text), w) for v, w in zip(votes, vote_weights, strict=True) if not v.unreadable
    ]
    if flags["unreadable"] or not readable:
        text, text_tied = "", False
    else:
        text, text_tied = vote_text([t for t, _ in readable], [w for _, w in readable])
    agrees = {
        vote.annotator: (normalize(vote.text) if not vote.unreadable else "") == text
        for vote in votes
    }
    agreeing_weight = sum(
        w for vote, w in zip(votes, vote_weights, strict=True) if agrees[vote.annotator]
    )
    agreeing = sum(agrees.values())
    confidence = agreeing_weight / total
    reason = ""
    if text_tied or flag_tied:
        reason = "the votes are tied"
    elif agreeing < required:
        reason = f"{agreeing} of {required} needed labels agree"
    elif confidence < min_confidence:
        reason = f"agreement {confidence:.0%} is below {min_confidence:.0%}"
    return Consensus(
        text=text,
        confidence=round(confidence, 4),
        flags=flags,
        accepted=not reason,
        agreeing=agreeing,
        reason=reason,
        per_vote_agrees=agrees,
    )


def estimate_reliability(
    crops: Mapping[object, Sequence[Vote]],
    *,
    gold: Mapping[object, str] | None = None,
    iterations: int = 5,
    prior: tuple[float, float] = (2.0, 1.0),
) -> dict[str, float]:
    """Each annotator's vote weight: log-odds of their estimated accuracy.

    One-coin Dawid-Skene by expectation-maximisation: start from gold accuracy (crops with
    a known answer) where there is one, compute consensus with the current weights, then
    re-estimate each annotator's accuracy as agreement with it (gold answers count as the
    truth), with a Beta ``prior`` (agreements, disagreements) so one label says little.
    """
    gold = {crop: normalize(text) for crop, text in (gold or {}).items()}
    weights: dict[str, float] = {}
    for _ in range(iterations):
        hits: dict[str, float] = defaultdict(float)
        seen: dict[str, float] = defaultdict(float)
        for crop, votes in crops.items():
            truth = gold.get(crop)
            if truth is None:
                if len(votes) < 2:
                    continue  # one label agrees with itself: no evidence
                truth = consensus(votes, weights=weights, required=1, min_confidence=0).text
            for vote in votes:
                seen[vote.annotator] += 1
                hits[vote.annotator] += (
                    normalize(vote.text) if not vote.unreadable else ""
                ) == truth
        weights = {
            annotator: _log_odds((hits[annotator] + prior[0]) / (seen[annotator] + sum(prior)))
            for annotator in seen
        }
    return weights


def _log_odds(accuracy: float) -> float:
    accuracy = min(max(accuracy, 0.01), 0.99)
    return max(math.log(accuracy / (1 - accuracy)), 0.01)


def accuracy_and_cer(pairs: Iterable[tuple[str, str]]) -> tuple[float, float]:
    """(exact-match accuracy, character error rate) of (label, truth) pairs, normalised."""
    exact = edits = length = n = 0
    for label, truth in pairs:
        label, truth = normalize(label), normalize(truth)
        n += 1
        exact += label == truth
        edits += Levenshtein.distance(label, truth)
        length += max(len(truth), 1)
    if n == 0:
        return 0.0, 0.0
    return exact / n, edits / length
