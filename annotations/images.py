"""Checking and normalising a donated image, in memory.

The format is decided by the bytes, never by the file name or the declared type.
The image is decoded in full (so truncation is caught), turned upright by its EXIF
orientation, and re-encoded, which drops metadata (GPS position, camera serial)
and anything appended after the image data.

A donated file is untrusted input to Pillow's decoders, which raise many kinds of
error on crafted bytes (``ValueError`` for a text chunk that inflates past its limit,
``OSError`` from a decoder, ``KeyError`` from a TIFF tag, ``AttributeError``,
``struct.error``…). Every error raised while decoding, converting or re-encoding is a
rejection of the file (400), never a server error; ``tests/fuzz/`` holds the corpus.
"""

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")

logger = logging.getLogger(__name__)


class ImageRejected(Exception):
    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


@dataclass(frozen=True)
class NormalizedImage:
    content: bytes
    format: str  # "jpeg" or "png": the format we store
    width: int
    height: int


_NOT_ACCEPTED = "The file is not an image we accept: send a JPEG, PNG, TIFF or WebP image."


def _damaged(source_format: str | None) -> ImageRejected:
    name = source_format or "image"
    return ImageRejected(f"The {name} file is damaged or incomplete and cannot be decoded.")


def _open(data: bytes) -> Image.Image:
    if not data:
        raise ImageRejected("The file is empty.")
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(_too_many_pixels_message(), too_large=True) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(_NOT_ACCEPTED) from exc
    except ValueError as exc:
        # PngImagePlugin: a zTXt/iTXt/iCCP chunk inflating past MAX_TEXT_CHUNK (a chunk bomb).
        if "too large" in str(exc).lower():
            raise ImageRejected(
                "The image carries a metadata chunk that inflates past its limit "
                "(a decompression bomb); send the image without it."
            ) from exc
        raise _damaged(None) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a decoder's error on untrusted bytes
        logger.info("donated image rejected on open: %r", exc)
        raise _damaged(None) from exc


def _too_many_pixels_message(width: int | None = None, height: int | None = None) -> str:
    limit = settings.DONATION_MAX_PIXELS / 1_000_000
    if width and height:
        return (
            f"The image is {width}×{height} pixels ({width * height / 1_000_000:.1f} megapixels); "
            f"the limit is {limit:.0f} megapixels."
        )
    return f"The image has more than {limit:.0f} megapixels, the limit."


def _check_shape(width: int, height: int) -> None:
    if width * height > settings.DONATION_MAX_PIXELS:
        raise ImageRejected(_too_many_pixels_message(width, height), too_large=True)
    min_side = settings.DONATION_MIN_SIDE_PIXELS
    if min(width, height) < min_side:
        raise ImageRejected(
            f"The image is {width}×{height} pixels; a document page needs at least "
            f"{min_side} pixels on each side."
        )
    ratio = max(width, height) / min(width, height)
    if ratio > settings.DONATION_MAX_ASPECT_RATIO:
        raise ImageRejected(
            f"The image is {width}×{height} pixels, {ratio:.0f} times longer than it is "
            f"wide; a document page may be at most {settings.DONATION_MAX_ASPECT_RATIO} "
            "times longer than wide."
        )


def _float_to_grey(image: Image.Image) -> Image.Image:
    """A 32-bit float image as 8-bit grey. Floats in [0, 1] (the usual scientific and
    scanner convention) map to 0..255; any other range is stretched from its minimum to
    its maximum. Not-a-number and infinite pixels count as white (paper)."""
    with np.errstate(invalid="ignore"):
        values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return Image.new("L", image.size, 255)
    low, high = float(values[finite].min()), float(values[finite].max())
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    span = high - low or 1.0
    scaled = np.where(finite, (values - low) / span * 255.0, 255.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _wide_int_to_grey(image: Image.Image) -> Image.Image:
    """16- and 32-bit integer grey as 8-bit: 16-bit ranges (0..65535) by their top byte;
    wider values are stretched from their minimum to their maximum."""
    values = np.asarray(image.convert("I"), dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    sixteen_bit = low >= 0 and high <= 0xFFFF
    grey = values >> 8 if sixteen_bit else (values - low) * 255 // max(high - low, 1)
    return Image.fromarray(grey.astype(np.uint8), mode="L")


def _flatten(image: Image.Image) -> Image.Image:
    """Any Pillow mode as "L" or "RGB": alpha onto white (as printed), wide grey scaled."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "F":
        return _float_to_grey(image)
    if image.mode.startswith("I"):  # I, I;16, I;16B, I;16L, I;16N…
        return _wide_int_to_grey(image)
    if image.mode in ("RGBA", "LA", "La", "PA", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # palette, CMYK, YCbCr, LAB, HSV, RGBX


def _decode_and_encode(image: Image.Image, source_format: str) -> NormalizedImage:
    image.load()
    image = _flatten(ImageOps.exif_transpose(image))
    out = io.BytesIO()
    # JPEG stays JPEG (re-encoding it losslessly would multiply its size for no gain
    # in what it shows); every other format is stored losslessly as PNG.
    if source_format == "JPEG":
        image.save(out, format="JPEG", quality=95, subsampling=0, optimize=True)
        stored = "jpeg"
    else:
        image.save(out, format="PNG", compress_level=6)
        stored = "png"
    return NormalizedImage(
        content=out.getvalue(), format=stored, width=image.width, height=image.height
    )


def normalize_image(data: bytes) -> NormalizedImage:
    with warnings.catch_warnings():
        # Pillow warns (not raises) between MAX_IMAGE_PIXELS and twice that, and for a
        # truncated TIFF strip; either is a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.filterwarnings("error", message=".*[Tt]runcated.*")
        image = _open(data)
        source_format = image.format
        try:
            width, height = image.size
            frames = getattr(image, "n_frames", 1)
        except ImageRejected:
            raise
        except Exception as exc:  # a decoder's error on untrusted bytes
            raise _damaged(source_format) from exc
        _check_shape(width, height)
        if frames > 1:
            raise ImageRejected(
                "The image has several pages or frames; send each page as its own donation."
            )
        try:
            return _decode_and_encode(image, source_format)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(_too_many_pixels_message(), too_large=True) from exc
        except MemoryError:
            raise
        except Exception as exc:  # a decoder's error on untrusted bytes
            logger.info("donated %s image rejected: %r", source_format, exc)
            raise _damaged(source_format) from exc
