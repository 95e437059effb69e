"""OCR building blocks with no Django in them: word detection, synthetic pages, evaluation.

Kept framework-free so they can be tested, benchmarked and trained on without a database.
"""
