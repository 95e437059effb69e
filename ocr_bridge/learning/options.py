"""How a retraining fine-tunes: its options, checked as a request gives them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class RetrainOptions:
    """How a retraining fine-tunes; the defaults are what the learning-loop benchmark
    measured best within a few CPU minutes (README, "Learning loop")."""

    steps: int = 8000
    batch_size: int = 32
    learning_rate: float = 3e-3
    synthetic_share: float = 0.1
    augment: bool = True
    freeze_features: bool = False
    seed: int = 0
    threads: int = 1
    max_labels: int = 0  # 0: every accepted label; else the first N documents' worth

    LIMITS = {
        "steps": (1, 100_000),
        "batch_size": (2, 512),
        "learning_rate": (1e-6, 1.0),
        "synthetic_share": (0.0, 0.9),
        "seed": (0, 2**31 - 1),
        "threads": (1, 64),
        "max_labels": (0, 10_000_000),
    }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RetrainOptions:
        """Checks a request's options: known names, right types, sensible ranges."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValidationError(f"unknown options: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.type in ("bool", bool):
                if not isinstance(value, bool):
                    raise ValidationError(f"{field.name} must be true or false")
            else:
                number = float if field.type in ("float", float) else int
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValidationError(f"{field.name} must be a number")
                if number is int and value != int(value):
                    raise ValidationError(f"{field.name} must be a whole number")
                low, high = cls.LIMITS[field.name]
                if not low <= value <= high:
                    raise ValidationError(f"{field.name} must be from {low} to {high}")
                value = number(value)
            values[field.name] = value
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
