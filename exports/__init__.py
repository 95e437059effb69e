"""Dataset exports: labeled word crops in the formats OCR trainers read, streamed,
encrypted at rest, audited. Entry points: ``services`` (writes), ``selectors`` (reads)."""
