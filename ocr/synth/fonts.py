"""The typefaces synthetic words are drawn in, weighted the way documents use them.

Fonts come from Debian packages (see `scripts/system-deps.sh`) and are found by
searching the usual font folders (`ocr.synthetic.find_font_files`), never by a fixed
path. A file name is matched against the catalogue below; its weight says how often it
is drawn. Receipts are mostly monospace and narrow sans, letters and forms serif and
typewriter faces, so those families weigh most; an unknown font still gets a small weight.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from ocr.synthetic import find_font_files

# (file-name prefix, style, weight). Debian packages: fonts-dejavu-core, fonts-liberation2,
# fonts-freefont-ttf, fonts-urw-base35, fonts-crosextra-carlito, fonts-crosextra-caladea,
# fonts-inconsolata, fonts-noto-mono.
CATALOGUE: tuple[tuple[str, str, float], ...] = (
    ("LiberationMono", "mono", 3.0),  # Courier New metrics: receipts, typewritten letters
    ("NimbusMonoPS", "typewriter", 3.0),  # Courier
    ("FreeMono", "typewriter", 2.0),
    ("DejaVuSansMono", "mono", 3.0),  # thermal-printer look alike
    ("NotoSansMono", "mono", 2.0),
    ("NotoMono", "mono", 1.0),
    ("Inconsolata", "mono", 1.5),
    ("NimbusSansNarrow", "condensed", 3.0),  # Helvetica Narrow: shop receipts
    ("DejaVuSansCondensed", "condensed", 2.0),
    ("LiberationSans", "sans", 3.0),  # Arial metrics: invoices, forms
    ("NimbusSans", "sans", 2.5),  # Helvetica
    ("FreeSans", "sans", 1.5),
    ("DejaVuSans", "sans", 1.5),
    ("Carlito", "sans", 1.5),  # Calibri metrics
    ("URWGothic", "sans", 0.7),
    ("LiberationSerif", "serif", 2.5),  # Times New Roman metrics: letters
    ("NimbusRoman", "serif", 2.0),
    ("FreeSerif", "serif", 1.0),
    ("DejaVuSerif", "serif", 1.0),
    ("Caladea", "serif", 1.0),  # Cambria metrics
    ("P052", "serif", 0.7),  # Palatino
    ("C059", "serif", 0.7),  # Century Schoolbook
    ("URWBookman", "serif", 0.5),
)
_UNKNOWN_WEIGHT = 0.3
# Script and symbol faces would teach glyph shapes no document prints.
_EXCLUDED_PREFIXES = ("Z003", "D050000L", "DejaVuSans-ExtraLight", "DejaVuMathTeXGyre")


@dataclass(frozen=True)
class FontChoice:
    """One installed font file, the style it stands for and how often it is drawn."""

    path: Path
    style: str
    weight: float

    @property
    def bold(self) -> bool:
        name = self.path.stem.lower()
        return any(mark in name for mark in ("bold", "-bd", "demi"))


def classify(path: Path) -> FontChoice | None:
    """The catalogue entry of a font file; None for faces that must not be drawn."""
    name = path.stem
    if name.startswith(_EXCLUDED_PREFIXES):
        return None
    # Longest prefix first, so that "DejaVuSansMono" is not taken for "DejaVuSans".
    for prefix, style, weight in sorted(CATALOGUE, key=lambda entry: -len(entry[0])):
        if name.startswith(prefix):
            italic = any(mark in name.lower() for mark in ("italic", "oblique", "ita"))
            return FontChoice(path=path, style=style, weight=weight * (0.3 if italic else 1.0))
    return FontChoice(path=path, style="other", weight=_UNKNOWN_WEIGHT)


@functools.cache
def font_catalogue() -> tuple[FontChoice, ...]:
    """Every usable font on this machine, sorted by path so that seeds replay."""
    choices = (classify(path) for path in find_font_files())
    return tuple(choice for choice in choices if choice is not None)


def pick_font(rng: random.Random) -> FontChoice:
    """A font drawn by catalogue weight."""
    catalogue = font_catalogue()
    if not catalogue:
        raise RuntimeError(
            "no TrueType/OpenType fonts found; install the packages in scripts/system-deps.sh"
        )
    return rng.choices(catalogue, weights=[choice.weight for choice in catalogue])[0]


@functools.lru_cache(maxsize=2048)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)
