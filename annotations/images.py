"""Checking and normalising a donated image, in memory.

The format is decided by the bytes, never by the file name or the declared type.
The image is decoded in full (so truncation is caught), turned upright by its EXIF
orientation, and re-encoded, which drops metadata (GPS position, camera serial)
and anything appended after the image data.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")


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


def _open(data: bytes) -> Image.Image:
    if not data:
        raise ImageRejected("The file is empty.")
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between MAX_IMAGE_PIXELS and twice that.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(_too_many_pixels_message(), too_large=True) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            "The file is not an image we accept: send a JPEG, PNG, TIFF or WebP image."
        ) from exc


def _too_many_pixels_message(width: int | None = None, height: int | None = None) -> str:
    limit = settings.DONATION_MAX_PIXELS / 1_000_000
    if width and height:
        return (
            f"The image is {width}×{height} pixels ({width * height / 1_000_000:.1f} megapixels); "
            f"the limit is {limit:.0f} megapixels."
        )
    return f"The image has more than {limit:.0f} megapixels, the limit."


def normalize_image(data: bytes) -> NormalizedImage:
    image = _open(data)
    width, height = image.size
    if width * height > settings.DONATION_MAX_PIXELS:
        raise ImageRejected(_too_many_pixels_message(width, height), too_large=True)
    if getattr(image, "n_frames", 1) > 1:
        raise ImageRejected(
            "The image has several pages or frames; send each page as its own donation."
        )
    source_format = image.format
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageRejected(
            f"The {source_format} image is damaged or incomplete and cannot be decoded."
        ) from exc
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("L", "RGB"):
        # Palette, CMYK, 16-bit and alpha images: flatten onto white, as printed.
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        elif image.mode in ("I;16", "I;16B", "I", "F"):
            image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
        else:
            image = image.convert("RGB")
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
