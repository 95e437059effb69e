"""Synthetic documents and word crops with exact ground truth, rendered with Pillow.

They stand in for real donations in tests, demos and benchmarks (no real person's data is
needed to exercise the pipeline), and give the detector a page whose every word box is
known. Rendering is deterministic for a given seed on a given set of installed fonts.
"""

from __future__ import annotations

import functools
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.detector import WordBox

logger = logging.getLogger(__name__)

KINDS = ("receipt", "invoice", "letter", "other")

# Where Debian, Fedora, macOS and Windows keep fonts; searched, never assumed.
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.fonts",
    "~/.local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
# Families that do not draw plain Latin text (symbols, maths, emoji) would give words
# that no reader could transcribe; calligraphic scripts (URW's Z003 "Chancery", TeX Gyre
# Chorus) are not what documents are printed in. D050000L is URW's Dingbats.
_UNUSABLE_FONT_HINTS = (
    "math",
    "symbol",
    "emoji",
    "dingbat",
    "wingding",
    "icon",
    "webdings",
    "d050000l",
    "z003",
    "chorus",
)
_INK_THRESHOLD = 60  # grey levels away from the background that count as ink

FontLike = ImageFont.FreeTypeFont | ImageFont.ImageFont

_FIRST_NAMES = ("John", "Mary", "Ahmad", "Siti", "Peter", "Laura", "Chen", "Aisha", "David")
_LAST_NAMES = ("Smith", "Tan", "Garcia", "Lee", "Brown", "Wong", "Miller", "Rahman", "Jones")
_STREETS = ("Main", "Oak", "Market", "Station", "Harbour", "Jalan", "Park", "Hill", "Bridge")
_STREET_KINDS = ("Street", "Road", "Avenue", "Lane", "Drive")
_CITIES = ("Springfield", "Kuala Lumpur", "Boston", "Leeds", "Penang", "Denver", "Austin")
_SHOP_WORDS = (
    "MART",
    "STORE",
    "CAFE",
    "BAKERY",
    "HARDWARE",
    "PHARMACY",
    "TRADING",
    "KITCHEN",
    "GROCER",
    "BOOKS",
    "SUPPLY",
    "MARKET",
)
_SHOP_PREFIXES = ("SUNRISE", "GOLDEN", "CITY", "FRESH", "HAPPY", "EAST", "BLUE", "PRIME")
_ITEMS = (
    "Coffee",
    "Tea",
    "Milk",
    "Bread",
    "Eggs",
    "Rice",
    "Sugar",
    "Butter",
    "Apples",
    "Water",
    "Noodles",
    "Chicken",
    "Soap",
    "Batteries",
    "Pencil",
    "Notebook",
    "Tape",
    "Screws",
    "Paint",
    "Gloves",
    "Juice",
    "Cookies",
    "Cheese",
    "Tissue",
    "Bananas",
    "Yogurt",
)
_ITEM_ADJECTIVES = ("Large", "Small", "Fresh", "Organic", "Classic", "Extra", "Mini", "Premium")
_SERVICES = (
    "Consulting",
    "Design",
    "Delivery",
    "Installation",
    "Maintenance",
    "Support",
    "Training",
    "Licence",
    "Hosting",
    "Repair",
)
_PROSE_TEXT = (
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an had they you were their one all we can her has there been if more "
    "when will would who so no about order payment account delivery invoice receipt "
    "thank please regards request meeting report review project schedule office letter "
    "customer service contract attached copy information number date total amount due "
    "received confirm following changes agreement sample results summary quarterly market "
    "product research program committee budget approval director manager department"
)
_PROSE = _PROSE_TEXT.split()
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class SyntheticWord:
    """One rendered word and its ink's tight bounding box on the page."""

    text: str
    box: WordBox


@dataclass
class SyntheticDocument:
    """A rendered page and the ground truth for every word drawn on it."""

    image: Image.Image
    words: list[SyntheticWord] = field(default_factory=list)
    kind: str = "receipt"


def find_font_files(dirs: tuple[str, ...] = FONT_DIRS) -> list[Path]:
    """TrueType/OpenType files on this machine that can draw Latin words, sorted.

    Sorted so that a seed picks the same font on every run on the same machine.
    """
    found: set[Path] = set()
    for directory in dirs:
        root = Path(os.path.expanduser(directory))
        if not root.is_dir():
            continue
        for pattern in ("*.ttf", "*.otf", "*.TTF", "*.OTF"):
            found.update(root.rglob(pattern))
    usable = [
        path
        for path in found
        if not any(hint in path.name.lower() for hint in _UNUSABLE_FONT_HINTS)
    ]
    return sorted(usable)


@functools.cache
def _font_files() -> tuple[Path, ...]:
    files = tuple(find_font_files())
    if not files:
        logger.info("no TrueType fonts found; rendering with Pillow's built-in font")
    return files


@functools.cache
def _load_font(path: str | None, size: int) -> FontLike:
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            logger.warning("font %s cannot be loaded; using Pillow's built-in font", path)
    return ImageFont.load_default(size=size)


def _pick_font(rng: random.Random, size: int, *, bold: bool = False) -> FontLike:
    files = _font_files()
    if not files:
        return _load_font(None, size)
    preferred = [f for f in files if ("bold" in f.name.lower()) == bold] or list(files)
    return _load_font(str(rng.choice(preferred)), size)


# ---------------------------------------------------------------------------- vocabulary


def _price(rng: random.Random, low: float = 0.5, high: float = 60.0) -> str:
    return f"{rng.uniform(low, high):.2f}"


def _date(rng: random.Random) -> str:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2015, 2025)
    style = rng.randrange(4)
    if style == 0:
        return f"{day:02d}/{month:02d}/{year}"
    if style == 1:
        return f"{year}-{month:02d}-{day:02d}"
    if style == 2:
        return f"{day:02d}-{_MONTHS[month - 1]}-{year}"
    return f"{day:02d}.{month:02d}.{year % 100:02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}"


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"


def _street(rng: random.Random) -> str:
    return f"{rng.randint(1, 250)} {rng.choice(_STREETS)} {rng.choice(_STREET_KINDS)}"


def _item(rng: random.Random) -> str:
    name = rng.choice(_ITEMS)
    if rng.random() < 0.5:
        name = f"{rng.choice(_ITEM_ADJECTIVES)} {name}"
    return name.upper() if rng.random() < 0.5 else name


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(_PROSE) for _ in range(words)]
    chosen[0] = chosen[0].capitalize()
    if rng.random() < 0.3:
        chosen.insert(rng.randrange(1, len(chosen)), str(rng.randint(2, 9999)))
    return " ".join(chosen) + rng.choice((".", ".", ".", ",", ";"))


# ------------------------------------------------------------------------------- canvas


class _Canvas:
    """A page being drawn, remembering where every word's ink went."""

    def __init__(self, width: int, height: int, rng: random.Random, background: int) -> None:
        self.image = Image.new("L", (width, height), background)
        self.draw = ImageDraw.Draw(self.image)
        self.rng = rng
        self.background = background
        self.words: list[tuple[str, tuple[int, int, int, int], int]] = []

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def text_width(self, text: str, font: FontLike) -> int:
        return round(self.draw.textlength(text, font=font))

    def line_height(self, font: FontLike) -> int:
        return self.draw.textbbox((0, 0), "Hg", font=font)[3]

    def write(
        self,
        x: int,
        y: int,
        text: str,
        font: FontLike,
        *,
        fill: int = 20,
        background: int | None = None,
    ) -> int:
        """Draws a line of words from (x, y); returns the x just after its last word."""
        space = max(2, self.text_width(" ", font))
        cursor = x
        for word in text.split():
            if cursor >= self.width:
                break
            self.draw.text((cursor, y), word, font=font, fill=fill)
            bbox = self.draw.textbbox((cursor, y), word, font=font)
            self.words.append((word, bbox, self.background if background is None else background))
            cursor += self.text_width(word, font) + space
        return cursor

    def write_right(self, right: int, y: int, text: str, font: FontLike, **kwargs: int) -> None:
        self.write(right - self.text_width(text, font), y, text, font, **kwargs)

    def write_centered(self, y: int, text: str, font: FontLike, **kwargs: int) -> None:
        self.write((self.width - self.text_width(text, font)) // 2, y, text, font, **kwargs)

    def finish(self, *, noise: float) -> tuple[Image.Image, list[SyntheticWord]]:
        """Measures each word's ink on the clean page, then adds scanner-like noise."""
        clean = np.asarray(self.image, dtype=np.int16)
        words: list[SyntheticWord] = []
        for text, (left, top, right, bottom), background in self.words:
            left, top = max(0, left), max(0, top)
            right, bottom = min(self.width, right), min(self.height, bottom)
            if right <= left or bottom <= top:
                continue
            region = np.abs(clean[top:bottom, left:right] - background) > _INK_THRESHOLD
            ys, xs = np.nonzero(region)
            if len(xs) == 0:
                continue
            box = WordBox(
                x=left + int(xs.min()),
                y=top + int(ys.min()),
                width=int(xs.max() - xs.min()) + 1,
                height=int(ys.max() - ys.min()) + 1,
            )
            words.append(SyntheticWord(text=text, box=box))
        if noise > 0:
            np_rng = np.random.default_rng(self.rng.getrandbits(32))
            noisy = clean + np_rng.normal(0.0, noise, clean.shape)
            image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode="L")
        else:
            image = self.image
        return image, words


# ------------------------------------------------------------------------------ layouts


def _render_receipt(rng: random.Random) -> _Canvas:
    canvas = _Canvas(600, 1000, rng, background=rng.randint(235, 255))
    size = rng.randint(17, 22)
    font = _pick_font(rng, size)
    bold = _pick_font(rng, size + rng.randint(4, 10), bold=True)
    line = canvas.line_height(font) + rng.randint(5, 10)
    margin = rng.randint(30, 60)
    y = rng.randint(25, 50)

    shop = f"{rng.choice(_SHOP_PREFIXES)} {rng.choice(_SHOP_WORDS)}"
    if rng.random() < 0.4:
        # A dark banner with light letters: the light-on-dark case the detector must handle.
        banner_height = canvas.line_height(bold) + 16
        canvas.draw.rectangle((margin, y - 6, canvas.width - margin, y + banner_height), fill=25)
        canvas.write_centered(y + 2, shop, bold, fill=240, background=25)
        y += banner_height + 14
    else:
        canvas.write_centered(y, shop, bold)
        y += canvas.line_height(bold) + 12
    canvas.write_centered(y, _street(rng), font)
    y += line
    canvas.write_centered(y, rng.choice(_CITIES), font)
    y += line
    canvas.write_centered(y, f"Tel: {rng.randint(100, 999)}-{rng.randint(1000, 9999)}", font)
    y += line + 6
    canvas.write(margin, y, f"Date: {_date(rng)} {_time(rng)}", font)
    y += line
    canvas.write(margin, y, f"Receipt No: {rng.randint(10000, 99999)}", font)
    y += line
    canvas.draw.line((margin, y + 4, canvas.width - margin, y + 4), fill=60, width=1)
    y += 14

    right = canvas.width - margin
    total = 0.0
    for _ in range(rng.randint(4, 12)):
        if y > canvas.height - 8 * line:
            break
        quantity = rng.randint(1, 4)
        price = float(_price(rng, 0.5, 40.0))
        total += quantity * price
        canvas.write(margin, y, f"{quantity} x {_item(rng)}", font)
        canvas.write_right(right, y, f"{quantity * price:.2f}", font)
        y += line
    canvas.draw.line((margin, y + 4, right, y + 4), fill=60, width=1)
    y += 14
    tax = round(total * 0.06, 2)
    for label, amount in (("Subtotal", total), ("Tax 6%", tax), ("TOTAL", total + tax)):
        canvas.write(margin, y, label, bold if label == "TOTAL" else font)
        canvas.write_right(right, y, f"{amount:.2f}", bold if label == "TOTAL" else font)
        y += line + (6 if label == "TOTAL" else 0)
    canvas.write(margin, y, rng.choice(("CASH", "VISA", "Card")), font)
    canvas.write_right(right, y, f"{total + tax + rng.uniform(0, 20):.2f}", font)
    y += line + 10
    canvas.write_centered(
        y, rng.choice(("THANK YOU", "Thank you, come again!", "THANK YOU!")), font
    )
    return canvas


def _render_invoice(rng: random.Random) -> _Canvas:
    canvas = _Canvas(850, 1100, rng, background=rng.randint(240, 255))
    size = rng.randint(15, 19)
    font = _pick_font(rng, size)
    bold = _pick_font(rng, size + 2, bold=True)
    title = _pick_font(rng, size + rng.randint(12, 20), bold=True)
    line = canvas.line_height(font) + rng.randint(6, 10)
    margin = rng.randint(50, 80)
    right = canvas.width - margin
    y = rng.randint(40, 70)

    company = f"{rng.choice(_SHOP_PREFIXES).capitalize()} {rng.choice(_SERVICES)} Ltd"
    canvas.write(margin, y, company, bold)
    canvas.write_right(right, y, "INVOICE", title)
    y += canvas.line_height(title) + 8
    for text in (_street(rng), rng.choice(_CITIES)):
        canvas.write(margin, y, text, font)
        y += line
    canvas.write_right(right, y - 2 * line, f"Invoice No: INV-{rng.randint(1000, 99999)}", font)
    canvas.write_right(right, y - line, f"Date: {_date(rng)}", font)
    y += line
    canvas.write(margin, y, "Bill To:", bold)
    y += line
    for text in (_person(rng), _street(rng), rng.choice(_CITIES)):
        canvas.write(margin, y, text, font)
        y += line
    y += line

    columns = (margin, margin + 380, margin + 470, right)
    header_height = line + 4
    if rng.random() < 0.5:
        canvas.draw.rectangle((margin - 6, y - 4, right + 6, y + header_height - 4), fill=40)
        header_fill, header_bg = 235, 40
    else:
        header_fill, header_bg = 20, canvas.background
    canvas.write(columns[0], y, "Description", bold, fill=header_fill, background=header_bg)
    canvas.write(columns[1], y, "Qty", bold, fill=header_fill, background=header_bg)
    canvas.write(columns[2], y, "Price", bold, fill=header_fill, background=header_bg)
    canvas.write_right(columns[3], y, "Amount", bold, fill=header_fill, background=header_bg)
    y += header_height + 6
    total = 0.0
    for _ in range(rng.randint(3, 9)):
        quantity = rng.randint(1, 20)
        price = float(_price(rng, 5.0, 400.0))
        total += quantity * price
        canvas.write(columns[0], y, f"{rng.choice(_SERVICES)} {rng.choice(_PROSE)}", font)
        canvas.write(columns[1], y, str(quantity), font)
        canvas.write(columns[2], y, f"{price:.2f}", font)
        canvas.write_right(columns[3], y, f"{quantity * price:.2f}", font)
        y += line
    canvas.draw.line((margin, y, right, y), fill=80, width=1)
    y += 10
    tax = total * 0.1
    for label, amount in (("Subtotal", total), ("VAT 10%", tax), ("Total Due", total + tax)):
        canvas.write(columns[2] - 60, y, label, bold)
        canvas.write_right(right, y, f"{amount:.2f}", bold)
        y += line
    y += line
    canvas.write(margin, y, f"Payment due within {rng.choice((14, 30, 60))} days.", font)
    y += line
    canvas.write(margin, y, f"Account {rng.randint(10**7, 10**8 - 1)} Thank you!", font)
    return canvas


def _wrap(canvas: _Canvas, text: str, font: FontLike, width: int) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    for word in text.split():
        candidate = " ".join([*current, word])
        if current and canvas.text_width(candidate, font) > width:
            lines.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def _render_letter(rng: random.Random) -> _Canvas:
    canvas = _Canvas(850, 1100, rng, background=rng.randint(238, 255))
    size = rng.randint(16, 20)
    font = _pick_font(rng, size)
    bold = _pick_font(rng, size + 4, bold=True)
    line = canvas.line_height(font) + rng.randint(6, 12)
    margin = rng.randint(70, 100)
    y = rng.randint(60, 90)

    sender = _person(rng)
    canvas.write(margin, y, sender, bold)
    y += canvas.line_height(bold) + 8
    for text in (_street(rng), rng.choice(_CITIES)):
        canvas.write(margin, y, text, font)
        y += line
    y += line
    canvas.write_right(canvas.width - margin, y, _date(rng), font)
    y += 2 * line
    salutation = rng.choice(("Mr.", "Ms.", "Dr."))
    canvas.write(margin, y, f"Dear {salutation} {rng.choice(_LAST_NAMES)},", font)
    y += 2 * line
    while y < canvas.height - 6 * line:
        paragraph = " ".join(_sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(2, 4)))
        for text in _wrap(canvas, paragraph, font, canvas.width - 2 * margin):
            if y >= canvas.height - 5 * line:
                break
            canvas.write(margin, y, text, font)
            y += line
        y += line
    canvas.write(margin, y, rng.choice(("Sincerely,", "Yours faithfully,", "Best regards,")), font)
    y += 2 * line
    canvas.write(margin, y, sender, font)
    return canvas


def _render_other(rng: random.Random) -> _Canvas:
    """A simple form: a title, labelled fields with values, a short note."""
    canvas = _Canvas(850, 1100, rng, background=rng.randint(238, 255))
    size = rng.randint(15, 20)
    font = _pick_font(rng, size)
    bold = _pick_font(rng, size, bold=True)
    title = _pick_font(rng, size + 12, bold=True)
    line = canvas.line_height(font) + rng.randint(10, 18)
    margin = rng.randint(60, 90)
    y = rng.randint(50, 80)

    canvas.write_centered(
        y, rng.choice(("APPLICATION FORM", "Registration Form", "Delivery Note", "FAX")), title
    )
    y += canvas.line_height(title) + 30
    fields: list[tuple[str, Callable[[], str]]] = [
        ("Name:", lambda: _person(rng)),
        ("Address:", lambda: _street(rng)),
        ("City:", lambda: rng.choice(_CITIES)),
        ("Date:", lambda: _date(rng)),
        ("Phone:", lambda: _phone(rng)),
        ("Reference:", lambda: f"REF-{rng.randint(100, 9999)}"),
        ("Amount:", lambda: f"${_price(rng, 10, 5000)}"),
        ("Department:", lambda: rng.choice(_PROSE).capitalize()),
    ]
    value_x = margin + 190
    for label, value in fields:
        canvas.write(margin, y, label, bold)
        canvas.write(value_x, y, value(), font)
        baseline = y + canvas.line_height(font) + 4
        canvas.draw.line((value_x - 4, baseline, canvas.width - margin, baseline), fill=120)
        y += line
    y += line
    canvas.write(margin, y, "Notes:", bold)
    y += line
    note = " ".join(_sentence(rng, rng.randint(6, 12)) for _ in range(3))
    for text in _wrap(canvas, note, font, canvas.width - 2 * margin):
        canvas.write(margin, y, text, font)
        y += canvas.line_height(font) + 8
    y += line
    canvas.write(margin, y, "Signature:", bold)
    canvas.write(canvas.width // 2 + 40, y, f"Date: {_date(rng)}", font)
    return canvas


_LAYOUTS: dict[str, Callable[[random.Random], _Canvas]] = {
    "receipt": _render_receipt,
    "invoice": _render_invoice,
    "letter": _render_letter,
    "other": _render_other,
}


def render_document(*, kind: str = "receipt", seed: int = 0) -> SyntheticDocument:
    """A page of the given kind ("receipt", "invoice", "letter", "other") with its words."""
    try:
        layout = _LAYOUTS[kind]
    except KeyError:
        raise ValueError(f"unknown document kind {kind!r}; known: {', '.join(KINDS)}") from None
    rng = random.Random(f"{kind}:{seed}")  # noqa: S311  synthetic data, not cryptography
    canvas = layout(rng)
    image, words = canvas.finish(noise=rng.uniform(2.0, 6.0))
    return SyntheticDocument(image=image, words=words, kind=kind)


def render_word(text: str, *, seed: int = 0, height: int = 32) -> Image.Image:
    """One word on white with a little padding, about `height` pixels tall.

    The font size is chosen so that the tallest letters of a typical word fill about
    three quarters of the crop, the way a detector's padded box frames a word.
    """
    rng = random.Random(f"word:{seed}")  # noqa: S311  synthetic data, not cryptography
    size = max(6, round(height * 0.75))
    font = _pick_font(rng, size, bold=rng.random() < 0.3)
    scratch = ImageDraw.Draw(Image.new("L", (1, 1), 255))
    left, top, right, bottom = scratch.textbbox((0, 0), text or " ", font=font)
    pad = max(2, height // 8)
    width = max(1, right - left) + 2 * pad
    ink_height = max(1, bottom - top)
    canvas_height = max(height, ink_height + 2 * pad)
    image = Image.new("L", (width, canvas_height), 255)
    draw = ImageDraw.Draw(image)
    draw.text((pad - left, (canvas_height - ink_height) // 2 - top), text, font=font, fill=0)
    return image
