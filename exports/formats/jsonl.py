"""A JSONL manifest (``samples.jsonl``, one crop a line, everything we know of it) and
the crop images under ``images/``."""

import io

from exports.formats.base import Writer, crop_file, json_line


class JsonlWriter(Writer):
    name = "jsonl"

    def members(self, samples, ctx):
        lines = io.BytesIO()
        for sample in samples:
            row = sample.row
            path = f"images/{crop_file(row)}"
            yield path, sample.png
            x, y, w, h = row.box
            lines.write(
                json_line(
                    {
                        "image": path,
                        "text": row.text,
                        "split": row.split,
                        **row.flags,
                        "document_kind": row.document_kind,
                        "consensus_confidence": row.consensus_confidence,
                        "box": {"x": x, "y": y, "width": w, "height": h},
                        "crop_id": row.crop_id,
                        "crop_index": row.crop_index,
                        "label_id": row.label_id,
                        "donation_id": row.donation_id,
                        "labeled_at": row.labeled_at,
                        "prefill": {
                            "text": row.prefill_text,
                            "engine": row.prefill_engine,
                            "engine_version": row.prefill_engine_version,
                        },
                    }
                ).encode("utf-8")
            )
        yield "samples.jsonl", lines.getbuffer()
