"""PaddleOCR recognition: ``rec_gt_<split>.txt`` (``path<TAB>label`` per line, paths
relative to the export's root) and ``dict.txt``, one character of the labels per line.

A tab or line break cannot be written in that format: such labels are left out (counted
in the manifest's notes). The space is kept out of ``dict.txt`` (PaddleOCR adds it with
``use_space_char: true``). A label beginning with =, +, - or @ gets a leading ``'``
(a spreadsheet would run it as a formula), noted in the manifest.
"""

from exports.formats.base import (
    FORMULA_GUARD,
    SplitEntries,
    Writer,
    crop_file,
    formula_guarded_labels,
    one_line_labels,
)


class PaddleOcrWriter(Writer):
    name = "paddleocr"

    def members(self, samples, ctx):
        lists = SplitEntries(ctx)
        characters: set[str] = set()
        for sample in formula_guarded_labels(
            one_line_labels(samples, ctx, self.name), ctx, self.name
        ):
            row = sample.row
            path = f"images/{row.split}/{crop_file(row)}"
            yield path, sample.png
            lists.add(row.split, f"{path}\t{row.text}\n")
            characters.update(row.text.removeprefix(FORMULA_GUARD))
        for split, data in lists.items():
            yield f"rec_gt_{split}.txt", data
        characters.discard(" ")
        yield "dict.txt", "".join(f"{char}\n" for char in sorted(characters)).encode("utf-8")
