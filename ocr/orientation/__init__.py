"""Which way up a word crop is: 0, 90, 180 or 270 degrees, turned counter-clockwise.

A small CNN on the crop laid long side horizontal (`data.canonical`), trained on
synthetic words turned by known angles (`python -m ocr.orientation.train`), fine-tuned on
real crops. No Django here, like the rest of `ocr/`.
"""
