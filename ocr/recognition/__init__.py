"""Our word recognizer: a CNN → BiLSTM → CTC network, its decoder and its training loop.

`charset` maps text to class indices, `model` is the network, `ctc` turns posteriors into
text with confidences, `predictor` wraps preprocessing + model + decoder for inference,
`training` holds the typed config and the loop behind `python -m ocr.train`.
"""
