"""A COCO-Text-style document-level file for detector training: ``documents/<id>.<ext>``
(the page) and ``coco_text.json`` with every word's box on its page.

Layout of COCO-Text v2: ``imgs`` (id, file_name, width, height, set), ``anns`` (id,
image_id, bbox ``[x, y, w, h]``, area, utf8_string, legibility ``legible|illegible``,
language ``english|not english``, class ``machine printed``), ``imgToAnns``. Our extra
keys: ``rotated`` on each annotation, ``document_kind`` on each image.

The three objects are kept as JSON text while the rows stream by (rows come grouped by
document), a fraction of the memory of Python dicts.
"""

import io
import json

from exports.formats.base import Writer


def _entry(key: object, value: object) -> bytes:
    return f"{json.dumps(str(key))}:{json.dumps(value, ensure_ascii=False)},".encode()


def _object(entries: io.BytesIO) -> list:
    """The entries as one JSON object (without copying them; the last comma dropped)."""
    return [b"{", entries.getbuffer()[:-1] if entries.tell() else b"", b"}"]


class CocoTextWriter(Writer):
    name = "coco_text"

    def members(self, samples, ctx):
        imgs, anns, img_to_anns = io.BytesIO(), io.BytesIO(), io.BytesIO()
        document, words = None, []
        for sample in samples:
            row = sample.row
            if row.donation_id != document:
                if document is not None:
                    img_to_anns.write(_entry(document, words))
                document, words = row.donation_id, []
                file_name = f"documents/{row.donation_id}.{row.document_image_format}"
                yield file_name, ctx.document_image(row)
                width, height = row.page_size
                image = {
                    "id": row.donation_id,
                    "file_name": file_name,
                    "width": width,
                    "height": height,
                    "set": row.split,
                    "document_kind": row.document_kind,
                }
                imgs.write(_entry(row.donation_id, image))
            x, y, w, h = row.box
            annotation = {
                "id": row.crop_id,
                "image_id": row.donation_id,
                "bbox": [x, y, w, h],
                "area": w * h,
                "utf8_string": "" if row.unreadable else row.text,
                "legibility": "illegible" if row.unreadable else "legible",
                "language": "not english" if row.non_english else "english",
                "class": "machine printed",
                "rotated": row.rotated,
            }
            anns.write(_entry(row.crop_id, annotation))
            words.append(row.crop_id)
        if document is not None:
            img_to_anns.write(_entry(document, words))
        info = json.dumps({"description": "DropTurk export (COCO-Text v2 layout)"}).encode()
        parts = [b'{"info":', info, b',"cats":{},"imgs":', *_object(imgs)]
        parts += [b',"anns":', *_object(anns), b',"imgToAnns":', *_object(img_to_anns), b"}"]
        yield "coco_text.json", b"".join(parts)
