"""The middle band's transformations (first version: none; words are kept as read)."""

from __future__ import annotations


def improve(gray, first, predictor, config):
    return list(first)
