"""GPD's generative model: a conditional DDPM over flat parameter vectors with a transformer denoiser.

As the authors' ``GaussianDiffusion1D`` with their ``Trans1`` denoiser: a linear beta schedule
(scaled to the number of steps), the v-prediction objective with an L2 loss, ancestral sampling.
The vector is cut into tokens of ``token_size`` entries; the denoiser embeds each token, adds a
learned position, the diffusion step's embedding and the condition's embedding to every token, and
runs a transformer encoder over the tokens.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def linear_betas(steps: int) -> torch.Tensor:
    """The DDPM linear schedule of 1000 steps, rescaled to ``steps`` (as improved DDPM does)."""
    scale = 1000 / steps
    return torch.linspace(scale * 1e-4, min(scale * 0.02, 0.999), steps, dtype=torch.float64)


def sinusoidal(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[B] -> [B, dim]`` sine / cosine features of the diffusion step."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / max(half - 1, 1))
    angles = t.float()[:, None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Denoiser(nn.Module):
    """Transformer over the tokens of a noisy vector; predicts v of every entry."""

    def __init__(self, size: int, condition_size: int, token_size: int, dim: int, layers: int, heads: int):
        super().__init__()
        self.size, self.token_size, self.dim = size, token_size, dim
        self.tokens = -(-size // token_size)
        self.embed = nn.Linear(token_size, dim)
        self.position = nn.Parameter(0.02 * torch.randn(self.tokens, dim))
        self.step = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.condition = nn.Sequential(nn.Linear(condition_size, dim), nn.GELU(), nn.Linear(dim, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, token_size)

    def forward(self, x: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        # x: [b p] -> tokens [b k s]
        padded = nn.functional.pad(x, (0, self.tokens * self.token_size - self.size))
        tokens = self.embed(padded.unflatten(-1, (self.tokens, self.token_size))) + self.position
        tokens = tokens + (self.step(sinusoidal(t, self.dim)) + self.condition(condition))[:, None]
        return self.head(self.encoder(tokens)).flatten(1)[:, : self.size]


class ParameterDiffusion(nn.Module):
    """DDPM of ``[P]`` vectors given ``[D]`` conditions, ``steps`` diffusion steps, v-prediction."""

    def __init__(self, denoiser: Denoiser, steps: int):
        super().__init__()
        self.denoiser, self.steps = denoiser, steps
        betas = linear_betas(steps)
        alpha_bar = torch.cumprod(1 - betas, 0)
        previous = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        schedule = {
            "sqrt_alpha_bar": alpha_bar.sqrt(), "sqrt_one_minus": (1 - alpha_bar).sqrt(),
            "mean_x0": betas * previous.sqrt() / (1 - alpha_bar),  # posterior mean's weight on x0
            "mean_xt": (1 - previous) * (1 - betas).sqrt() / (1 - alpha_bar),  # ... and on x_t
            "posterior_std": (betas * (1 - previous) / (1 - alpha_bar)).sqrt(),
        }
        for name, values in schedule.items():
            self.register_buffer(name, values.float())

    def loss(self, x0: torch.Tensor, condition: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean squared error of the predicted v at a random step of each vector."""
        t = torch.randint(self.steps, (len(x0),), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        a, s = self.sqrt_alpha_bar[t][:, None], self.sqrt_one_minus[t][:, None]
        v = a * noise - s * x0
        return nn.functional.mse_loss(self.denoiser(a * x0 + s * noise, t, condition), v)

    @torch.no_grad()
    def sample(self, condition: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One vector ``[len(condition), P]`` per condition, by ancestral sampling from pure noise."""
        shape = (len(condition), self.denoiser.size)
        x = torch.randn(shape, generator=generator).to(condition.device)
        for step in reversed(range(self.steps)):
            t = torch.full((shape[0],), step, device=condition.device, dtype=torch.long)
            v = self.denoiser(x, t, condition)
            x0 = self.sqrt_alpha_bar[step] * x - self.sqrt_one_minus[step] * v
            x = self.mean_x0[step] * x0 + self.mean_xt[step] * x
            if step > 0:
                x = x + self.posterior_std[step] * torch.randn(shape, generator=generator).to(x.device)
        return x


def train_diffusion(diffusion: ParameterDiffusion, vectors: torch.Tensor, conditions: torch.Tensor, steps: int,
                    batch_size: int, lr: float, generator: torch.Generator, progress=iter) -> list[float]:
    """``steps`` Adam steps on random batches of (vector, condition) pairs; the loss of every step."""
    optimizer = torch.optim.Adam(diffusion.parameters(), lr=lr)
    diffusion.train()
    losses = []
    for _ in progress(range(steps)):
        pick = torch.randint(len(vectors), (min(batch_size, len(vectors)),), generator=generator).to(vectors.device)
        loss = diffusion.loss(vectors[pick], conditions[pick], generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    diffusion.eval()
    return losses
