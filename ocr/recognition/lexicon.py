"""A lexicon of English words, and decoding that prefers a word of it to a near miss.

A network that reads characters one by one misreads a letter of a word it has read right
but for that letter (`cornpany`, `NUMBFR:`); the CTC posteriors usually hold the word as a
close second. Tesseract and every OCR of its kind consult a dictionary for this; so do we,
conservatively: only a reading that looks like a word (two characters or more of letters
and digits once its surrounding punctuation is stripped, letters outnumbering digits) and
is not in the lexicon is reconsidered, by prefix beam search over the same posteriors, and
the likeliest candidate that is in the lexicon, with no more punctuation than the reading,
replaces it if it is at least `RATIO` as probable as the beam's best.
Numbers, codes, prices and words the lexicon knows keep their greedy reading. A replaced
reading's confidence is its own probability over all its alignments, as any reading's is:
mostly low, as the network preferred another (on the receipt words, the accept band at
0.92 holds exactly the same readings with and without the lexicon).

The words are those of the synthetic corpus (`ocr.synth.corpus.lexicon_words`: its common
words and the system word list), shipped as `lexicon.txt.gz` so that reading never depends
on what the machine has installed; `python -m ocr.recognition.lexicon` (`make lexicon`)
writes the file again, byte for byte the same from the same word list.

What it gains is measured with `python -m ocr.evaluate --crops DIR [--no-lexicon]`
(figures in docs/benchmarks.md); the ratio was chosen on even-numbered crops and held on
odd-numbered ones; the beam, 10 then, was widened to 30 on the tuning half of the
receipts (docs/adr/0011-page-reader.md).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr.recognition.charset import Charset
from ocr.recognition.ctc import (
    PRUNE,
    Decoded,
    beam_candidates,
    greedy_decode,
    greedy_decode_batch,
    labelling_probability,
)

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.txt.gz")
RATIO = 0.03  # a lexicon word replaces the best reading if at least this share as probable
BEAM_WIDTH = 30  # candidates weighed for a reading the lexicon does not know (ADR 0011)
_PUNCTUATION = string.punctuation


def word_core(text: str) -> str:
    """What a lexicon is asked about: the token without surrounding punctuation, lower
    case (``"TOTAL:"`` → ``"total"``, ``"(Company)"`` → ``"company"``)."""
    return text.strip(_PUNCTUATION + " ").lower()


@dataclass(frozen=True)
class Lexicon:
    words: frozenset[str]

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        core = word_core(text)
        return len(core) > 1 and core in self.words

    def questions(self, text: str) -> bool:
        """Whether a reading is worth a second look: it looks like a word (two characters
        or more of letters and digits, more letters than digits, no punctuation inside:
        not `R&D`, `Year's`, `U.PRICE`) and this lexicon does not know it."""
        core = word_core(text)
        if len(core) < 2 or not core.isalnum() or core in self.words:
            return False
        letters = sum(char.isalpha() for char in core)
        return letters > sum(char.isdigit() for char in core)

    def decode(self, probs: np.ndarray, charset: Charset) -> Decoded:
        """Greedy decoding, with a questioned reading replaced by a likely lexicon word that
        does not turn a letter into punctuation (`CAS` is not `[as`)."""
        return self.second_look(probs, charset, greedy_decode(probs, charset))

    def decode_batch(
        self, probs: np.ndarray, lengths: Sequence[int], charset: Charset
    ) -> list[Decoded]:
        """`decode` of each row of a batch, ``probs`` (N, T, classes) with row i's first
        ``lengths[i]`` frames its own: the same readings, the greedy labellings'
        probabilities computed in one call."""
        greedy = greedy_decode_batch(probs, lengths, charset)
        return [
            self.second_look(probs[row, :length], charset, reading)
            for row, (length, reading) in enumerate(zip(lengths, greedy, strict=True))
        ]

    def second_look(self, probs: np.ndarray, charset: Charset, greedy: Decoded) -> Decoded:
        """The greedy reading of ``probs``, or the lexicon word that replaces it."""
        if not self.questions(greedy.text):
            return greedy
        marks = _marks(greedy.text)
        candidates = beam_candidates(probs, charset, beam_width=BEAM_WIDTH)
        best = candidates[0][1].confidence
        for indices, candidate in candidates:
            if candidate.confidence < RATIO * best:
                break
            if candidate.text in self and _marks(candidate.text) <= marks:
                return Decoded(
                    text=candidate.text,
                    confidence=labelling_probability(probs, list(indices)),
                    char_confidences=candidate.char_confidences,
                    lexicon=True,
                )
        return greedy


# A number read without its point is read with it when the point's reading is at least
# this share as probable as the beam's best (figures: docs/adr/0011-page-reader.md).
POINT_RATIO = 0.001


def with_point(probs: np.ndarray, charset: Charset, reading: Decoded) -> Decoded:
    """A reading of three digits or more ("7950") as the price it is ("79.50") when the
    posteriors hold the point before its last two digits as a candidate (a faint or
    thin point that the best path read as blank). Its confidence stays the digits'
    (the reading's), the point's character confidence its own."""
    text = reading.text
    if len(text) < 3 or not text.isdigit():
        return reading
    # The beam extends no prefix by a class under its pruning level in a frame: without a
    # frame where the point reaches it, no candidate holds a point (and the search is
    # most of what this check costs).
    if probs[:, charset.encode(".")[0]].max() < PRUNE:
        return reading
    priced = f"{text[:-2]}.{text[-2:]}"
    candidates = beam_candidates(probs, charset, beam_width=BEAM_WIDTH, prune=PRUNE)
    best = candidates[0][1].confidence
    for _indices, candidate in candidates:
        if candidate.confidence < POINT_RATIO * best:
            break
        if candidate.text == priced:
            return Decoded(
                text=priced,
                confidence=reading.confidence,
                char_confidences=candidate.char_confidences,
                lexicon=reading.lexicon,
            )
    return reading


# Characters a number keeps around it ("(0.00)", "*5.0O:") when it is read as one.
_NUMBER_EDGES = "()[]:;*"
# What a number may hold besides digits (and letters O read for zeros).
_NUMBER_MARKS = ".,%-/"


def lookalikes(text: str) -> str:
    """A reading with letters and digits that look alike put right by what stands beside
    them: a zero between letters is the letter O ("N0." → "NO.", "SELANG0R"), an O in a
    number is a zero ("148.5O", "O.OO"), a dollar sign before a letter is an S ("$ales",
    "G$T"). A zero beside a digit, or before a point or comma and a digit ("RM0.50"), stays.
    Each character is replaced by one, so per-character confidences stay aligned."""
    if not text:
        return text
    chars = list(text)
    for i, char in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if char == "$" and after.isalpha():
            chars[i] = "S"
        if char != "0" or before.isdigit() or after.isdigit():
            continue
        if not (before.isalpha() or after.isalpha()):
            continue
        if after in ".," and i + 2 < len(text) and text[i + 2].isdigit():
            continue
        letters = [c for c in (before, after) if c.isalpha()]
        chars[i] = "o" if all(c.islower() for c in letters) else "O"
    fixed = "".join(chars)
    core = fixed.strip(_NUMBER_EDGES)
    if (
        any(c in "Oo" for c in core)
        and any(c.isdigit() for c in core)
        and all(c.isdigit() or c in "Oo" or c in _NUMBER_MARKS for c in core)
    ):
        fixed = fixed.replace("O", "0").replace("o", "0")
    return fixed


def _marks(text: str) -> int:
    """How many characters of ``text`` are neither letters nor digits."""
    return sum(not char.isalnum() for char in text)


def build(words: Iterable[str]) -> bytes:
    """The lexicon file for ``words``: gzip of one lower-case word per line, sorted, with no
    time stamp in it (the same words give the same bytes)."""
    text = "".join(f"{word}\n" for word in sorted({word.lower() for word in words}))
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as file:
        file.write(text.encode("ascii"))
    return buffer.getvalue()


@functools.cache
def load(path: Path = DEFAULT_LEXICON) -> Lexicon:
    with gzip.open(path, "rt", encoding="ascii") as file:
        return Lexicon(frozenset(file.read().split()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ocr.recognition.lexicon",
        description="Write the recognizer's lexicon from the synthetic corpus's words.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_LEXICON)
    args = parser.parse_args(argv)
    from ocr.synth.corpus import lexicon_words

    words = lexicon_words()
    args.out.write_bytes(build(words))
    print(f"{len(words):,} words → {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
