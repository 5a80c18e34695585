"""Temporal convolutions and normalisation on node-first, channel-last features ``[n b t c]``.

A 'valid' convolution over time is one matrix product over the concatenated kernel taps, so
every layer is a GEMM over all nodes, samples and steps at once (far quicker on CPU than 1D
convolutions with nodes folded into the batch) and no layer depends on N.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Activation = Literal["glu", "relu", "sigmoid"]


class TimeConv(nn.Module):
    """'Valid' (dilated) convolution over the time axis 2 of ``[n b t c]``; same parameters as a conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.linear = nn.Linear(kernel_size * in_channels, out_channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [n b t c] -> [n b t - dilation (kernel - 1) c_out]
        steps = x.shape[2] - self.dilation * (self.kernel_size - 1)
        if self.kernel_size == 1:
            return self.linear(x)
        taps = [x[:, :, j * self.dilation : j * self.dilation + steps] for j in range(self.kernel_size)]
        return self.linear(torch.cat(taps, dim=-1))


class ChannelAlign(nn.Module):
    """STGCN's residual input: a bias-free 1x1 conv to fewer channels, zero padding to more, else identity."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.out_channels = out_channels
        self.proj = nn.Linear(in_channels, out_channels, bias=False) if in_channels > out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [... c] -> [... c_out]
        if self.proj is not None:
            return self.proj(x)
        return F.pad(x, (0, self.out_channels - x.shape[-1]))


class TemporalConv(nn.Module):
    """STGCN's temporal gated convolution: a 'valid' conv over time with a residual input.

    ``glu``: ``(P + x_res) * sigmoid(Q)``; ``relu``: ``relu(conv + x_res)``; ``sigmoid``:
    ``sigmoid(conv)``. The residual is cropped to the output length and aligned to
    ``out_channels`` with :class:`ChannelAlign`, as in the original.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, activation: Activation):
        super().__init__()
        self.activation = activation
        self.kernel_size = kernel_size
        self.conv = TimeConv(in_channels, 2 * out_channels if activation == "glu" else out_channels, kernel_size)
        self.align = ChannelAlign(in_channels, out_channels) if activation != "sigmoid" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [n b t c] -> [n b t - kernel + 1 c_out]
        h = self.conv(x)
        if self.align is None:
            return torch.sigmoid(h)
        residual = self.align(x[:, :, self.kernel_size - 1 :])
        if self.activation == "glu":
            p, q = h.chunk(2, dim=-1)
            return (p + residual) * torch.sigmoid(q)
        return torch.relu(h + residual)


class DilatedGatedConv(nn.Module):
    """WaveNet's gated dilated causal conv ``tanh(W_f * x) * sigmoid(W_g * x)`` ('valid', shortens t).

    The filter and gate kernels are held in one matrix (the same parameters as two convolutions).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv = TimeConv(in_channels, 2 * out_channels, kernel_size, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [n b t c] -> [n b t - dilation (kernel - 1) c_out]
        filter_, gate = self.conv(x).chunk(2, dim=-1)
        return torch.tanh(filter_) * torch.sigmoid(gate)


class ChannelBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the channels of ``[... c]``: statistics over nodes, samples and steps (= BatchNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [n b t c]
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)
