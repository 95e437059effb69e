"""Synthetic word crops for training the recognizer: text, fonts, rendering, degradation.

`corpus` says what is written, `fonts` in which typeface, `render` draws it on a
`backgrounds` texture and `transforms` makes it look photographed, scanned or thermally
printed. Every sample is a pure function of its seed, so a training run can be replayed.
"""
