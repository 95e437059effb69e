"""A seeded corpus of crafted and mutated images for the upload path.

``crafted_cases()`` is a fixed list of named files, each with the answer it must get:
every odd mode each accepted format can carry (which must be stored), chunk bombs,
impossible headers, pages too small or too long, and files that are not images we take.
``mutated_cases(seed, count)`` derives files from well-formed seeds by bit flips, byte
runs overwritten, truncations, insertions, deleted spans and duplicated chunks; the same
seed gives the same bytes, so a failure is replayed by its case name.
"""

import io
import random
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, TiffImagePlugin

# What the upload may answer: stored, refused, or too large. Anything else is a fault.
ACCEPTABLE = (201, 400, 413)


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expect: tuple[int, ...] = ACCEPTABLE  # the statuses this case may get
    says: str = ""  # a phrase its refusal must contain, when one is expected


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _page(size=(96, 64), mode="RGB") -> Image.Image:
    """A small page with a gradient and a dark bar, so a black-or-white result shows."""
    width, height = size
    ramp = np.tile(np.linspace(40, 250, width, dtype=np.float64), (height, 1))
    ramp[8:20, 10:50] = 0
    grey = Image.fromarray(ramp.astype(np.uint8), mode="L")
    return grey.convert(mode) if mode != "L" else grey


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width=96, height=64, *, extra: bytes = b"", depth=8, colour=0, idat: bytes | None = None):
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    if idat is None:
        idat = zlib.compress((b"\x00" + b"\x80" * width) * height)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


_BOMB = zlib.compress(b"\x00" * (24 * 1024 * 1024), 9)  # 24 MB of zeros in ~24 kB


def _odd_modes() -> list[Case]:
    """Every mode each format can hold: all of them are pages we store."""
    stored = (201,)
    cases = []
    png_modes = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"]
    for mode in png_modes:
        cases.append(Case(f"png-mode-{mode}", _encode(_page(mode=mode), "PNG"), stored))
    palette = _page(mode="P")
    cases.append(Case("png-palette-transparency", _encode(palette, "PNG", transparency=0), stored))
    cases.append(Case("png-interlaced", _encode(_page(), "PNG", interlace=1), stored))
    tiff_modes = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "I", "F"]
    for mode in tiff_modes:
        cases.append(Case(f"tiff-mode-{mode}", _encode(_page(mode=mode), "TIFF"), stored))
    for compression in ("tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg", "group4"):
        image = _page(mode="1" if compression == "group4" else "RGB")
        data = _encode(image, "TIFF", compression=compression)
        cases.append(Case(f"tiff-{compression}", data, stored))
    floats = np.linspace(0.0, 1.0, 96 * 64, dtype=np.float32).reshape(64, 96)
    cases.append(
        Case("tiff-float-unit", _encode(Image.fromarray(floats, mode="F"), "TIFF"), stored)
    )
    wide = (floats * 5000 - 1000).astype(np.float32)
    cases.append(Case("tiff-float-wide", _encode(Image.fromarray(wide, mode="F"), "TIFF"), stored))
    nan = floats.copy()
    nan[0:4] = np.nan
    cases.append(Case("tiff-float-nan", _encode(Image.fromarray(nan, mode="F"), "TIFF"), stored))
    for mode in ("L", "RGB", "CMYK"):
        cases.append(Case(f"jpeg-mode-{mode}", _encode(_page(mode=mode), "JPEG"), stored))
    cases.append(Case("jpeg-progressive", _encode(_page(), "JPEG", progressive=True), stored))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = _encode(_page(), "JPEG", exif=exif.tobytes())
        cases.append(Case(f"jpeg-exif-orientation-{orientation}", data, stored))
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 77  # no such orientation
    cases.append(Case("jpeg-exif-orientation-77", _encode(_page(), "JPEG", exif=bad_exif), stored))
    for mode in ("L", "RGB", "RGBA"):
        cases.append(Case(f"webp-mode-{mode}", _encode(_page(mode=mode), "WEBP"), stored))
    cases.append(Case("webp-lossless", _encode(_page(), "WEBP", lossless=True), stored))
    cases.append(Case("png-min-side", _encode(_page((16, 16)), "PNG"), stored))
    cases.append(Case("png-max-aspect", _encode(_page((640, 32)), "PNG"), stored))
    return cases


def _bad_tiff_tags() -> list[bytes]:
    """TIFFs whose tags lie: unknown photometric, bits per sample, strip offsets past
    the end, a sample format Pillow has no mode for."""
    files = []
    for tag, value in (
        (262, 99),  # PhotometricInterpretation: no such value
        (258, 13),  # BitsPerSample 13
        (273, 10**8),  # StripOffsets beyond the file
        (339, 7),  # SampleFormat: undefined
        (277, 9),  # SamplesPerPixel 9
        (259, 50000),  # Compression: unknown
    ):
        info = TiffImagePlugin.ImageFileDirectory_v2()
        info[tag] = value
        try:
            files.append(_encode(_page(mode="L"), "TIFF", tiffinfo=info))
        except Exception:  # noqa: S112 - Pillow refuses to write some lies; those are left out
            continue
    return files


def crafted_cases() -> list[Case]:
    refused = (400,)
    cases = _odd_modes()
    for kind, body in (
        (b"zTXt", b"k\x00\x00"),
        (b"iTXt", b"k\x00\x01\x00\x00\x00"),
        (b"iCCP", b"p\x00\x00"),
    ):
        name = kind.decode()
        cases.append(
            Case(f"png-{name}-bomb", _png(extra=_chunk(kind, body + _BOMB)), refused, "bomb")
        )
    cases.append(
        Case(
            "png-idat-bomb",
            _png(20000, 20000, idat=zlib.compress(b"\x00" * 2**20)),
            (413,),
            "megapixels",
        )
    )
    cases.append(Case("png-zero-width", _png(0, 64), refused))
    cases.append(
        Case("png-huge-width", _png(2**31 - 1, 1, idat=zlib.compress(b"\x00" * 64)), (400, 413))
    )
    good = _png()
    ihdr_crc = 8 + 8 + 13  # the signature, IHDR's length and type, its 13 bytes
    bad_crc = good[:ihdr_crc] + bytes(4) + good[ihdr_crc + 4 :]
    cases.append(Case("png-bad-ihdr-crc", bad_crc, refused))
    cases.append(
        Case(
            "png-no-idat",
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", 96, 64, 8, 0, 0, 0, 0))
            + _chunk(b"IEND", b""),
            refused,
        )
    )
    cases.append(Case("png-bad-depth", _png(depth=7), refused))
    cases.append(Case("png-bad-colour", _png(colour=5), refused))
    # A palette image without its PLTE: Pillow reads it as grey; storing it is fine.
    cases.append(Case("png-palette-without-plte", _png(colour=3)))
    cases.append(Case("png-short-idat", _png(idat=zlib.compress(b"\x00\x80" * 10)), refused))
    cases.append(
        Case("one-by-one", _encode(Image.new("RGB", (1, 1)), "PNG"), refused, "at least 16 pixels")
    )
    cases.append(
        Case(
            "thirty-thousand-by-ten",
            _encode(Image.new("L", (30000, 10)), "PNG"),
            refused,
            "at least 16 pixels",
        )
    )
    cases.append(
        Case(
            "ten-thousand-by-forty",
            _encode(Image.new("L", (10000, 40)), "PNG"),
            refused,
            "longer than",
        )
    )
    cases.append(Case("empty", b"", refused, "empty"))
    for name, data in (
        ("text", b"hello, world\n" * 20),
        ("html", b"<html><script>alert(1)</script></html>"),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"/>'),
        ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
        ("gif", _encode(_page(), "GIF")),
        ("bmp", _encode(_page(), "BMP")),
        ("zip", b"PK\x03\x04" + bytes(60)),
        ("png-signature-only", b"\x89PNG\r\n\x1a\n"),
        ("jpeg-soi-only", b"\xff\xd8\xff"),
        ("tiff-header-only", b"II*\x00\x08\x00\x00\x00"),
        ("tiff-loop-ifd", b"II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00"),
        ("webp-header-only", b"RIFF\x10\x00\x00\x00WEBPVP8 "),
    ):
        cases.append(Case(f"not-ours-{name}", data, refused))
    for index, data in enumerate(_bad_tiff_tags()):
        cases.append(Case(f"tiff-lying-tag-{index}", data))
    frames = [_page(), _page().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    cases.append(
        Case(
            "tiff-two-pages",
            _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
            refused,
            "several pages",
        )
    )
    cases.append(
        Case(
            "webp-animated",
            _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100),
            refused,
            "several pages",
        )
    )
    cases.append(
        Case(
            "png-animated",
            _encode(frames[0], "PNG", save_all=True, append_images=frames[1:]),
            refused,
            "several pages",
        )
    )
    jpeg = _encode(_page(), "JPEG")
    sof = jpeg.find(b"\xff\xc0")
    if sof > 0:
        huge = bytearray(jpeg)
        huge[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
        cases.append(Case("jpeg-sof-65000-square", bytes(huge), (413,), "megapixels"))
    return cases


def _seeds() -> list[tuple[str, bytes]]:
    page = _page((80, 48))
    return [
        ("png", _encode(page, "PNG")),
        ("png-palette", _encode(page.convert("P"), "PNG")),
        ("png-rgba", _encode(page.convert("RGBA"), "PNG")),
        ("jpeg", _encode(page, "JPEG", quality=80)),
        ("jpeg-progressive", _encode(page, "JPEG", progressive=True)),
        ("tiff", _encode(page, "TIFF")),
        ("tiff-lzw", _encode(page, "TIFF", compression="tiff_lzw")),
        (
            "tiff-float",
            _encode(Image.fromarray(np.asarray(page.convert("L"), np.float32) / 255), "TIFF"),
        ),
        ("webp", _encode(page, "WEBP", quality=80)),
        ("webp-lossless", _encode(page, "WEBP", lossless=True)),
    ]


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each chunk after the signature, for chunk-level mutations."""
    spans, at = [], 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        end = at + 12 + length
        if end > len(data):
            break
        spans.append((at, end))
        at = end
    return spans


def _mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    b = bytearray(data)
    how = rng.choice(
        ["flip", "flip", "overwrite", "truncate", "insert", "delete", "chunk", "header"]
    )
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(b))
            b[at] ^= 1 << rng.randrange(8)
    elif how == "overwrite":
        at = rng.randrange(len(b))
        run = rng.randint(1, 32)
        b[at : at + run] = rng.choice([b"\x00", b"\xff", bytes([rng.randrange(256)])]) * run
    elif how == "truncate":
        b = b[: rng.randrange(1, len(b))]
    elif how == "insert":
        at = rng.randrange(len(b))
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif how == "delete":
        at = rng.randrange(len(b))
        del b[at : at + rng.randint(1, 64)]
    elif how == "chunk" and data.startswith(b"\x89PNG"):
        spans = _png_chunks(data)
        start, end = rng.choice(spans)
        if rng.random() < 0.5:
            b[end:end] = data[start:end]  # duplicate a chunk (two IHDRs, two PLTEs...)
        else:
            del b[start:end]  # drop one
    else:  # the first 64 bytes, where headers and sizes live
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(min(64, len(b)))
            b[at] = rng.randrange(256)
    return how, bytes(b)


def mutated_cases(*, seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)
    seeds = _seeds()
    cases = []
    for index in range(count):
        seed_name, data = seeds[index % len(seeds)]
        how, mutated = _mutate(rng, data)
        cases.append(Case(f"mutated-{seed}-{index}-{seed_name}-{how}", mutated))
    return cases
