"""Signals the labeling domain sends, so that apps built on it (exports) can react
without ``annotations`` importing them."""

from django.dispatch import Signal

# Sent inside the withdrawal's transaction, after the key is destroyed: ``donation``.
donation_withdrawn = Signal()
