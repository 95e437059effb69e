"""Word detectors: `components` (the default) and `mser`; see `ocr.detector`."""
