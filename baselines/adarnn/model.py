"""AdaRNN's forecaster: a GRU stack shared by every node of every city, and a linear read-out."""
from __future__ import annotations

import torch
from torch import nn


class NodeGRU(nn.Module):
    """Each node's window is one sequence: ``layers`` single-layer GRUs (kept apart, as TDM matches
    every layer's hidden states) and a linear map of the last hidden state to the ``output_len``
    z-scored forecasts. Node-shared, so one model serves cities of any size.

    Args:
        in_features: input channels per step (3: z-scored value, time of day, day of week).
        hidden_size: GRU width (the authors' default 64).
        layers: stacked GRUs (the paper's 2).
        output_len: forecast steps.
    """

    def __init__(self, in_features: int = 3, hidden_size: int = 64, layers: int = 2, output_len: int = 6):
        super().__init__()
        sizes = [in_features] + [hidden_size] * layers
        self.grus = nn.ModuleList(nn.GRU(a, b, batch_first=True) for a, b in zip(sizes[:-1], sizes[1:]))
        self.readout = nn.Linear(hidden_size, output_len)

    def encode(self, sequences: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's hidden states ``[S, L, hidden]`` of sequences ``[S, L, F]``."""
        hidden, states = sequences, []
        for gru in self.grus:
            hidden, _ = gru(hidden)
            states.append(hidden)
        return states

    def forecast(self, states: list[torch.Tensor]) -> torch.Tensor:
        """``[S, output_len]`` from the last layer's last hidden state."""
        return self.readout(states[-1][:, -1])

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # inputs: [b l n f] -> z-scored forecasts [b h n]
        b, l, n, f = inputs.shape
        sequences = inputs.permute(0, 2, 1, 3).reshape(b * n, l, f)
        return self.forecast(self.encode(sequences)).reshape(b, n, -1).transpose(1, 2)
