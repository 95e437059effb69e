"""One module per export format; ``WRITERS`` maps a format's name to its writer."""

from exports.formats.base import Member, Sample, WriteContext, Writer
from exports.formats.coco_text import CocoTextWriter
from exports.formats.doctr import DoctrWriter
from exports.formats.imagefolder import ImageFolderWriter
from exports.formats.jsonl import JsonlWriter
from exports.formats.lmdb_dtrb import LmdbWriter
from exports.formats.paddleocr import PaddleOcrWriter
from exports.formats.tesstrain import TesstrainWriter

WRITERS: dict[str, type[Writer]] = {
    writer.name: writer
    for writer in (
        ImageFolderWriter,
        LmdbWriter,
        PaddleOcrWriter,
        DoctrWriter,
        TesstrainWriter,
        JsonlWriter,
        CocoTextWriter,
    )
}

__all__ = ["WRITERS", "Member", "Sample", "WriteContext", "Writer"]
