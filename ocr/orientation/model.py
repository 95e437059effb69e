"""The orientation classifier: four conv blocks, an average over the width, a small head.

Input: crops laid long side horizontal, height 32, values in [-1, 1] (`data.prepare`).
The width is averaged away but the height is kept in four bands, so the network sees
where ascenders, baseline and descenders sit: what tells upright print from upside down.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

ANGLES = (0, 90, 180, 270)  # class i: the crop's content turned by ANGLES[i], counter-clockwise


@dataclass(frozen=True)
class OrientationConfig:
    channels: tuple[int, int, int, int] = (16, 32, 48, 64)
    hidden: int = 64

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _block(in_channels: int, out_channels: int, pool: tuple[int, int]) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool),
    ]


class OrientationNet(nn.Module):
    """(N, 1, 32, W) → logits (N, 4)."""

    def __init__(self, config: OrientationConfig | None = None) -> None:
        super().__init__()
        self.config = config or OrientationConfig()
        c1, c2, c3, c4 = self.config.channels
        self.features = nn.Sequential(
            *_block(1, c1, (2, 2)),  # 16 × W/2
            *_block(c1, c2, (2, 2)),  # 8 × W/4
            *_block(c2, c3, (2, 1)),  # 4 × W/4
            *_block(c3, c4, (1, 1)),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c4 * 4, self.config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Linear(self.config.hidden, len(ANGLES)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        bands = self.features(images).mean(dim=3, keepdim=True)  # N, C, 4, 1
        return self.head(bands)
