"""Pages read end to end: orientation, word detection, reading, the accept / reject /
combine / split / re-read decisions, lines in reading order. Django-free.

    from ocr.page import read_page
    reading = read_page(rgb_or_gray_uint8_array)
    reading.text(); reading.to_json()
"""

from ocr.page.reader import read_page
from ocr.page.types import DECISIONS, PageReading, ReaderConfig, WordReading

__all__ = ["DECISIONS", "PageReading", "ReaderConfig", "WordReading", "read_page"]
