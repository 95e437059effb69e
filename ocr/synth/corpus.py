"""What synthetic crops say: the tokens receipts, invoices, forms and letters are made of.

A detector cuts pages at spaces, so each generator yields one token as it appears on a
page: `6.69`, `TOTAL:`, `(RM)`, `25/12/2018`, `9557368063013`. English words follow a Zipf
law over a ranked list (the most common words of business English first) and the system
word list (Debian's `wamerican`) adds the long tail when it is installed.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Callable
from pathlib import Path

# Ranked by how often they appear in receipts, invoices and letters (most common first);
# the rank drives a Zipf weight, so "the" is drawn far more often than "warranty".
_COMMON_TEXT = (
    "the of and to a in for is on that by this with you it not or be are from at as your all "
    "have new more an was we will can us about if my has but our one other do no time they "
    "he up may what which their out use any there see only so his when here who also now "
    "help get view first am been would how were me some these its like than find date back "
    "top people had list name just over year day into two re next used go work last most "
    "total cash change tax amount qty price item items sub subtotal receipt invoice number "
    "no tel fax gst sst rm table bill paid due balance discount rounding net sales thank "
    "you please come again order customer account payment card visa credit debit cashier "
    "store shop member points service charge tip description unit each rate code ref "
    "address phone email street road jalan city state zip country company ltd sdn bhd inc "
    "co limited enterprise trading restaurant cafe mart market hardware pharmacy bakery "
    "coffee tea milk rice chicken water sugar bread egg eggs noodle fried large small "
    "regular ice hot set meal delivery shipping handling quantity weight kg pcs pc box "
    "pack bottle dear sir madam regards sincerely yours faithfully report meeting project "
    "research program review results summary budget approval director manager department "
    "office letter request information attached copy following agreement contract sample "
    "brand product tobacco smoking health study test data memo subject page signature "
    "received approved signed from to cc re attention confidential draft final revised "
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december morning evening warranty return "
    "exchange refund goods sold are not returnable"
)
_COMMON_WORDS = tuple(_COMMON_TEXT.split())
_ABBREVIATIONS = (
    "No.",
    "Qty",
    "Amt",
    "Ltd.",
    "Inc.",
    "Co.",
    "Dept.",
    "Tel.",
    "Fax.",
    "Ref.",
    "Inv.",
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "St.",
    "Rd.",
    "Ave.",
    "P.O.",
    "A/C",
    "S/N",
    "U/P",
    "S/PRICE",
    "GST",
    "SST",
    "VAT",
    "RM",
    "USD",
    "MYR",
    "SGD",
    "PCS",
    "KG",
    "EA",
    "c/o",
    "e.g.",
    "i.e.",
    "etc.",
    "vs.",
    "Attn:",
    "Re:",
    "cc:",
    "TEL:",
    "FAX:",
    "NO:",
    "DATE:",
    "TIME:",
    "TOTAL:",
    "CASH:",
    "CHANGE:",
    "ROUNDING",
    "SUBTOTAL",
    "CASHIER",
    "INVOICE",
    "RECEIPT",
    "TAX",
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CURRENCIES = ("$", "RM", "€", "£", "¥", "S$", "USD")
_WORD_LIST_PATHS = ("/usr/share/dict/words", "/usr/share/dict/american-english")
_BRACKETS = (("(", ")"), ("[", "]"), ("<", ">"), ('"', '"'), ("'", "'"))
_TRAILING = (":", ",", ".", ";", "!", "?", "%", ")", "*", "-", "/", "=")
_LEADING = ("(", "#", "*", "$", "@", "-", "+", "~", "&", "/", "'", '"')


def _zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


@functools.cache
def _system_words() -> tuple[str, ...]:
    """Plain ASCII words of two letters or more of the system word list (no possessives),
    in its order, or none."""
    for candidate in _WORD_LIST_PATHS:
        path = Path(candidate)
        if path.is_file():
            words = path.read_text(encoding="utf-8", errors="ignore").split()
            return tuple(w for w in words if w.isascii() and w.isalpha() and len(w) > 1)
    return ()


@functools.cache
def _dictionary_words() -> tuple[str, ...]:
    """The system word list's words drawn for synthetic crops: up to 14 letters."""
    return tuple(word for word in _system_words() if len(word) <= 14)


def lexicon_words() -> list[str]:
    """Every English word the corpus knows, lower case, sorted: the common list and the
    system word list's, whatever their length (the recognizer's lexicon,
    `ocr.recognition.lexicon`, is built from these)."""
    return sorted({word.lower() for word in (*_COMMON_WORDS, *_system_words())})


@functools.cache
def _common_weights() -> tuple[float, ...]:
    return tuple(_zipf_weights(len(_COMMON_WORDS)))


def _case(rng: random.Random, word: str) -> str:
    """Documents shout (receipts are mostly upper case), title-case and whisper."""
    roll = rng.random()
    if roll < 0.45:
        return word.upper()
    if roll < 0.75:
        return word.lower()
    return word.capitalize()


def english_word(rng: random.Random) -> str:
    """A word drawn with realistic frequency: common words by Zipf rank, else the long tail."""
    dictionary = _dictionary_words()
    if dictionary and rng.random() < 0.35:
        return _case(rng, rng.choice(dictionary))
    word = rng.choices(_COMMON_WORDS, weights=_common_weights())[0]
    return _case(rng, word)


def price(rng: random.Random) -> str:
    """Amounts as printed: `6.69`, `1,280.00`, `-0.01`, `RM12.50`, `$3.5`."""
    magnitude = rng.choices((10, 100, 1000, 100000), weights=(5, 4, 2, 1))[0]
    value = rng.uniform(0, magnitude)
    text = f"{value:,.2f}" if value >= 1000 and rng.random() < 0.6 else f"{value:.2f}"
    if rng.random() < 0.05:
        text = f"{value:.1f}"
    roll = rng.random()
    if roll < 0.12:
        text = rng.choice(_CURRENCIES) + text
    elif roll < 0.16:
        text = "-" + text
    elif roll < 0.2:
        text = text + rng.choice(("SR", "ZR", "S", "Z", "*", "T"))
    return text


def date(rng: random.Random) -> str:
    """Dates in the orders and separators receipts and letters use."""
    day, month, year = rng.randint(1, 31), rng.randint(1, 12), rng.randint(1985, 2030)
    styles: tuple[Callable[[], str], ...] = (
        lambda: f"{day:02d}/{month:02d}/{year}",
        lambda: f"{day}/{month}/{year % 100:02d}",
        lambda: f"{year}-{month:02d}-{day:02d}",
        lambda: f"{day:02d}-{month:02d}-{year}",
        lambda: f"{day:02d}.{month:02d}.{year}",
        lambda: f"{day:02d}-{_MONTHS[month - 1]}-{year}",
        lambda: f"{day:02d}{_MONTHS[month - 1].upper()}{year % 100:02d}",
        lambda: f"{month:02d}/{day:02d}/{year % 100:02d}",
    )
    return rng.choice(styles)()


def time_of_day(rng: random.Random) -> str:
    """`14:05`, `2:05PM`, `14:05:33`."""
    hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    roll = rng.random()
    if roll < 0.5:
        return f"{hour:02d}:{minute:02d}"
    if roll < 0.75:
        return f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{hour % 12 or 12}:{minute:02d}{rng.choice(('AM', 'PM', 'am', 'pm'))}"


def phone_number(rng: random.Random) -> str:
    """One-token phone numbers: `03-7845 1234` is two tokens, so no inner spaces here."""
    digits = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    styles: tuple[Callable[[], str], ...] = (
        lambda: f"{digits(3)}-{digits(3)}-{digits(4)}",
        lambda: f"({digits(3)}){digits(3)}-{digits(4)}",
        lambda: f"0{digits(1)}-{digits(7)}",
        lambda: f"+{rng.randint(1, 99)}-{digits(2)}-{digits(7)}",
        lambda: f"{digits(3)}.{digits(3)}.{digits(4)}",
        lambda: digits(rng.randint(7, 11)),
    )
    return rng.choice(styles)()


def ean13_check_digit(body: str) -> str:
    """GS1 check digit of 12 digits: weights 1, 3, 1, 3, … from the left."""
    if len(body) != 12 or not body.isdigit():
        raise ValueError(f"EAN-13 needs 12 digits before its check digit, got {body!r}")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return str((10 - total % 10) % 10)


def upca_check_digit(body: str) -> str:
    """GS1 check digit of 11 digits: weights 3, 1, 3, 1, … from the left."""
    if len(body) != 11 or not body.isdigit():
        raise ValueError(f"UPC-A needs 11 digits before its check digit, got {body!r}")
    total = sum(int(d) * (1 if i % 2 else 3) for i, d in enumerate(body))
    return str((10 - total % 10) % 10)


def product_code(rng: random.Random) -> str:
    """An EAN-13 or UPC-A code with a valid check digit."""
    if rng.random() < 0.6:
        body = rng.choice(("955", "978", "400", "500", "690", "888")) + "".join(
            str(rng.randrange(10)) for _ in range(9)
        )
        return body + ean13_check_digit(body)
    body = "".join(str(rng.randrange(10)) for _ in range(11))
    return body + upca_check_digit(body)


def reference_number(rng: random.Random) -> str:
    """Invoice, receipt and registration numbers: `INV-20931`, `CS00031663`, `(742016-W)`."""
    number = rng.randint(0, 10 ** rng.randint(3, 9))
    styles: tuple[Callable[[], str], ...] = (
        lambda: f"{rng.choice(('INV', 'REF', 'PO', 'SO', 'DO', 'CS', 'OR', 'TX'))}-{number}",
        lambda: f"{rng.choice(('INV', 'CS', 'T', 'R', 'OR', 'B'))}{number:08d}",
        lambda: f"#{number}",
        lambda: f"({number}-{rng.choice('ADKPTUVWX')})",
        lambda: f"{number}-{rng.choice('ADKPTUVWX')}",
        lambda: f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randint(1, 9999)}",
        lambda: f"{number}/{rng.randint(1, 99)}",
        lambda: "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8)),
    )
    return rng.choice(styles)()


def quantity(rng: random.Random) -> str:
    """`2`, `x3`, `1.250kg`, `12PCS`, `50%`."""
    roll = rng.random()
    if roll < 0.4:
        return str(rng.randint(0, 99))
    if roll < 0.55:
        return f"{rng.choice(('x', 'X'))}{rng.randint(1, 24)}"
    if roll < 0.7:
        return f"{rng.uniform(0, 5):.3f}{rng.choice(('kg', 'KG', 'g', 'L'))}"
    if roll < 0.85:
        return f"{rng.randint(1, 99)}{rng.choice(('PCS', 'pcs', 'EA', 'UNIT', 'ml'))}"
    return f"{rng.randint(0, 100)}%"


def abbreviation(rng: random.Random) -> str:
    return rng.choice(_ABBREVIATIONS)


def punctuated(rng: random.Random) -> str:
    """A word or number with punctuation stuck to it: `TOTAL:`, `(RM)`, `items,`."""
    core = rng.choice((english_word, english_word, price, quantity, abbreviation))(rng)
    roll = rng.random()
    if roll < 0.45:
        return core + rng.choice(_TRAILING)
    if roll < 0.75:
        opening, closing = rng.choice(_BRACKETS)
        return opening + core + closing
    return rng.choice(_LEADING) + core


def random_characters(rng: random.Random) -> str:
    """Letters without meaning, so the model reads glyphs and not only a language model."""
    alphabet = rng.choice(
        (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "abcdefghijklmnopqrstuvwxyz",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            "0123456789.,:-/",
            "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~€£¥¢°",
        )
    )
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))


# Share of each kind of token, tuned towards what receipts and forms hold.
GENERATORS: dict[str, tuple[Callable[[random.Random], str], float]] = {
    "word": (english_word, 0.36),
    "price": (price, 0.12),
    "date": (date, 0.05),
    "time": (time_of_day, 0.03),
    "phone": (phone_number, 0.03),
    "product_code": (product_code, 0.03),
    "reference": (reference_number, 0.06),
    "quantity": (quantity, 0.05),
    "abbreviation": (abbreviation, 0.05),
    "punctuated": (punctuated, 0.12),
    "random": (random_characters, 0.07),
    "phrase": (lambda rng: f"{english_word(rng)} {english_word(rng)}", 0.02),
    "single": (lambda rng: rng.choice(string.ascii_letters + string.digits + "$&#%*:()/-"), 0.03),
}


def sample_text(rng: random.Random) -> str:
    """One token drawn from the mixture above."""
    generators = list(GENERATORS.values())
    generator = rng.choices([g for g, _ in generators], weights=[w for _, w in generators])[0]
    return generator(rng)
