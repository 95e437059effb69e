"""Page orientation (first version: pages are taken as upright)."""

from __future__ import annotations


def upright(image, *, detect=None):
    return image, 0
