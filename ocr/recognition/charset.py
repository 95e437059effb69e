"""The characters the recognizer can write: printed English documents' letters and signs.

Index 0 is CTC's blank. Characters outside the set are mapped to the nearest one a
person would type (curly quotes to straight ones) or dropped, so that labels from
other sources can be trained on.
"""

from __future__ import annotations

import string
import unicodedata

BLANK = 0
CHARACTERS = string.ascii_letters + string.digits + string.punctuation + " " + "€£¥¢°"
# Curly quotes and dashes, as word processors print them, written as a keyboard types them.
_TYPED_FORM = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


class Charset:
    """Bidirectional map between text and class indices (1..N; 0 is blank)."""

    def __init__(self, characters: str = CHARACTERS) -> None:
        if len(set(characters)) != len(characters):
            raise ValueError("charset has repeated characters")
        self.characters = characters
        self._index = {char: i + 1 for i, char in enumerate(characters)}

    def __len__(self) -> int:
        """Number of classes the network outputs, blank included."""
        return len(self.characters) + 1

    def normalize(self, text: str) -> str:
        """The text as this charset can write it: typed quotes, known characters, one space."""
        text = unicodedata.normalize("NFKC", text).translate(_TYPED_FORM)
        kept = "".join(char for char in text if char in self._index)
        return " ".join(kept.split())

    def encode(self, text: str) -> list[int]:
        return [self._index[char] for char in self.normalize(text)]

    def decode(self, indices: list[int]) -> str:
        return "".join(self.characters[i - 1] for i in indices if i != BLANK)
