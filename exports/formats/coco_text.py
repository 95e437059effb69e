"""A COCO-Text-style document-level file for detector training: ``documents/<id>.<ext>``
(the page) and ``coco_text.json`` with every word's box on its page.

Layout of COCO-Text v2: ``imgs`` (id, file_name, width, height, set), ``anns`` (id,
image_id, bbox ``[x, y, w, h]``, area, utf8_string, legibility ``legible|illegible``,
language ``english|not english``, class ``machine printed``), ``imgToAnns``. Our extra
keys: ``rotated`` on each annotation, ``document_kind`` on each image.
"""

import json

from exports.formats.base import Writer


class CocoTextWriter(Writer):
    name = "coco_text"

    def members(self, samples, ctx):
        imgs: dict[str, dict] = {}
        anns: dict[str, dict] = {}
        img_to_anns: dict[str, list[int]] = {}
        for sample in samples:
            row = sample.row
            if row.donation_id not in imgs:
                file_name = f"documents/{row.donation_id}.{row.document_image_format}"
                yield file_name, ctx.document_image(row)
                width, height = row.page_size
                imgs[row.donation_id] = {
                    "id": row.donation_id,
                    "file_name": file_name,
                    "width": width,
                    "height": height,
                    "set": row.split,
                    "document_kind": row.document_kind,
                }
                img_to_anns[row.donation_id] = []
            x, y, w, h = row.box
            anns[str(row.crop_id)] = {
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
            img_to_anns[row.donation_id].append(row.crop_id)
        document = {
            "info": {"description": "DropTurk export (COCO-Text v2 layout)"},
            "cats": {},
            "imgs": imgs,
            "anns": anns,
            "imgToAnns": img_to_anns,
        }
        yield "coco_text.json", json.dumps(document, ensure_ascii=False).encode("utf-8")
