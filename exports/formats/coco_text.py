"""A COCO-Text-style document-level file for detector training: ``documents/<id>.<ext>``
(the page) and ``coco_text.json`` with every word's box on its page.

Layout of COCO-Text v2: ``imgs`` (id, file_name, width, height, set), ``anns`` (id,
image_id, bbox ``[x, y, w, h]``, area, utf8_string, legibility ``legible|illegible``,
language ``english|not english``, class ``machine printed``), ``imgToAnns``. Our extra
keys: ``rotated``, ``line`` (the word's line on its page, ``null`` for crops cut before
lines) and ``reading_order`` on each annotation, ``document_kind`` on each image.

The three objects grow as JSON text in spools while the rows stream by (rows come grouped
by document) and are joined into the one file at the end.
"""

import json

from exports.formats.base import Writer
from exports.spool import Entries, Joined


def _entry(key: object, value: object) -> str:
    return f"{json.dumps(str(key))}:{json.dumps(value, ensure_ascii=False)}"


class CocoTextWriter(Writer):
    name = "coco_text"

    def members(self, samples, ctx):
        imgs, anns, img_to_anns = (Entries(ctx.spools.new(), separator=b",") for _ in range(3))
        document, words = None, []
        for sample in samples:
            row = sample.row
            if row.donation_id != document:
                if document is not None:
                    img_to_anns.add(_entry(document, words))
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
                imgs.add(_entry(row.donation_id, image))
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
                "line": row.line,
                "reading_order": row.crop_index,
            }
            anns.add(_entry(row.crop_id, annotation))
            words.append(row.crop_id)
        if document is not None:
            img_to_anns.add(_entry(document, words))
        info = json.dumps({"description": "DropTurk export (COCO-Text v2 layout)"}).encode()
        yield (
            "coco_text.json",
            Joined(
                b'{"info":' + info + b',"cats":{},"imgs":{',
                imgs.spool,
                b'},"anns":{',
                anns.spool,
                b'},"imgToAnns":{',
                img_to_anns.spool,
                b"}}",
            ),
        )
