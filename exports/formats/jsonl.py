"""A JSONL manifest (``samples.jsonl``, one crop a line, everything we know of it) and
the crop images under ``images/``.

A page's words group into lines by ``donation_id`` and ``line`` (``null`` for crops cut
before the page reader made lines), in reading order by ``crop_index``; ``reading`` says
how the reader made the crop (``decision``: accepted, reread, combined, split).
"""

from exports.formats.base import Writer, crop_file, json_line
from exports.spool import Entries


class JsonlWriter(Writer):
    name = "jsonl"

    def members(self, samples, ctx):
        lines = Entries(ctx.spools.new())
        for sample in samples:
            row = sample.row
            path = f"images/{crop_file(row)}"
            yield path, sample.png
            x, y, w, h = row.box
            lines.add(
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
                        "line": row.line,
                        "label_id": row.label_id,
                        "donation_id": row.donation_id,
                        "labeled_at": row.labeled_at,
                        "reading": {
                            "decision": row.decision,
                            "source_boxes": row.source_boxes,
                            "detector_version": row.detector_version,
                        },
                        "prefill": {
                            "text": row.prefill_text,
                            "engine": row.prefill_engine,
                            "engine_version": row.prefill_engine_version,
                        },
                    }
                )
            )
        yield "samples.jsonl", lines.spool
