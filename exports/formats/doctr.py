"""docTR recognition: ``<split>/images/<file>.png`` + ``<split>/labels.json``
(``{"<file>.png": "text", ...}``), what ``doctr.datasets.RecognitionDataset`` reads."""

import json

from exports.formats.base import SplitEntries, Writer, crop_file
from exports.spool import Joined


class DoctrWriter(Writer):
    name = "doctr"

    def members(self, samples, ctx):
        entries = SplitEntries(ctx, separator=b",\n")
        for sample in samples:
            row = sample.row
            name = crop_file(row)
            yield f"{row.split}/images/{name}", sample.png
            entries.add(row.split, f"{json.dumps(name)}: {json.dumps(row.text)}")
        for split, spool in entries.items():
            # The object's entries, one a line.
            yield f"{split}/labels.json", Joined(b"{\n", spool, b"\n}\n")
