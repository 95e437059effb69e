"""docTR recognition: ``<split>/images/<file>.png`` + ``<split>/labels.json``
(``{"<file>.png": "text", ...}``), what ``doctr.datasets.RecognitionDataset`` reads."""

import json

from exports.formats.base import SplitBuffers, Writer, crop_file


class DoctrWriter(Writer):
    name = "doctr"

    def members(self, samples, ctx):
        entries = SplitBuffers()
        for sample in samples:
            row = sample.row
            name = crop_file(row)
            yield f"{row.split}/images/{name}", sample.png
            entries.write(row.split, f"{json.dumps(name)}: {json.dumps(row.text)},\n")
        for split, data in entries.items():
            # The object's entries, one a line; the last comma dropped.
            yield f"{split}/labels.json", b"".join([b"{\n", data[: -len(b",\n")], b"\n}\n"])
