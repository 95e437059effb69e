"""The CRNN: a small VGG-style CNN with batch norm, a bidirectional LSTM, a linear head.

Input: gray crops scaled to height 32, any width, values in [-1, 1]. The CNN halves the
height five times and the width twice, so each output frame covers 4 pixels of width —
narrow enough for CTC to fit the blanks between letters of a tight crop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

INPUT_HEIGHT = 32
WIDTH_STRIDE = 4


@dataclass(frozen=True)
class CrnnConfig:
    """The network's shape; stored in the weights file so that it can be rebuilt."""

    num_classes: int
    channels: tuple[int, ...] = (32, 64, 96, 96, 128)
    hidden: int = 128
    lstm_layers: int = 1
    # How crops lower than the input are enlarged to it (`preprocess.UPSCALE`): part of
    # what the weights were trained on, so it travels with them.
    upscale: str = "linear"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class Crnn(nn.Module):
    """Crops (N, 1, 32, W) → log-probabilities (T = W/4, N, classes), CTC's layout."""

    def __init__(self, config: CrnnConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3, c4, c5 = config.channels
        self.features = nn.Sequential(
            *_conv(1, c1),
            nn.MaxPool2d(2),  # 16 × W/2
            *_conv(c1, c2),
            nn.MaxPool2d(2),  # 8 × W/4
            *_conv(c2, c3),
            *_conv(c3, c4),
            nn.MaxPool2d((2, 1)),  # 4 × W/4
            *_conv(c4, c5),
            nn.MaxPool2d((2, 1)),  # 2 × W/4
            nn.Conv2d(c5, c5, (2, 1), bias=False),  # 1 × W/4: the column's summary
            nn.BatchNorm2d(c5),
            nn.ReLU(inplace=True),
        )
        self.rnn = nn.LSTM(c5, config.hidden, num_layers=config.lstm_layers, bidirectional=True)
        self.head = nn.Linear(2 * config.hidden, config.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        columns = self.features(images).squeeze(2).permute(2, 0, 1)  # T, N, C
        sequence, _ = self.rnn(columns)
        return self.head(sequence).log_softmax(-1)
