"""Hugging Face ``datasets`` imagefolder: ``<split>/<file>.png`` + ``<split>/metadata.jsonl``.

Read with ``datasets.load_dataset("imagefolder", data_dir=DIR)``.
"""

from exports.formats.base import SplitEntries, Writer, crop_file, json_line


class ImageFolderWriter(Writer):
    name = "imagefolder"

    def members(self, samples, ctx):
        metadata = SplitEntries(ctx)
        for sample in samples:
            row = sample.row
            name = crop_file(row)
            yield f"{row.split}/{name}", sample.png
            metadata.add(
                row.split,
                json_line(
                    {
                        "file_name": name,
                        "text": row.text,
                        **row.flags,
                        "document_kind": row.document_kind,
                        "consensus_confidence": row.consensus_confidence,
                        "crop_id": row.crop_id,
                        "label_id": row.label_id,
                        "donation_id": row.donation_id,
                        "crop_index": row.crop_index,
                        "line": row.line,
                    }
                ),
            )
        for split, data in metadata.items():
            yield f"{split}/metadata.jsonl", data
