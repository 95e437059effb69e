"""tesstrain ground truth: ``<split>/<name>.png`` beside ``<split>/<name>.gt.txt``
(the line's text and a newline), what ``make training GROUND_TRUTH_DIR=...`` reads.

A label with a line break cannot be one line of ground truth: left out (noted). A label
beginning with =, +, - or @ gets a leading ``'`` (a spreadsheet would run it as a
formula), noted in the manifest.
"""

from exports.formats.base import Writer, formula_guarded_labels, one_line_labels


class TesstrainWriter(Writer):
    name = "tesstrain"

    def members(self, samples, ctx):
        for sample in formula_guarded_labels(
            one_line_labels(samples, ctx, self.name), ctx, self.name
        ):
            row = sample.row
            stem = f"{row.split}/{row.crop_id:09d}"
            yield f"{stem}.png", sample.png
            yield f"{stem}.gt.txt", (row.text + "\n").encode("utf-8")
