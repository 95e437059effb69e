"""What a typed word may hold, for every form and API that takes one (labels, reviews)."""

from rest_framework import serializers


def reject_control_characters(value: str) -> str:
    """A typed word never holds control characters (tabs, NUL, newlines...)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise serializers.ValidationError("Text must not contain control characters.")
    return value
