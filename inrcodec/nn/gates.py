"""Hard-concrete L0 gates on latent dimensions (Louizos et al. 2018; L0onie).

Each gate has a log-odds ``log_alpha``. During optimisation a gate is a stretched, clipped
concrete sample: exactly 0 or 1 with positive probability, differentiable in between, so the
expected number of open gates (the L0 norm) is a smooth function of ``log_alpha``. When encoding
ends, a gate is open iff its deterministic value is non-zero.
"""

import math

import torch

BETA, GAMMA, ZETA = 2 / 3, -0.1, 1.1  # temperature and stretch from the paper
_SHIFT = BETA * math.log(-GAMMA / ZETA)


def open_probability(log_alpha: torch.Tensor) -> torch.Tensor:
    """P(gate != 0): the expected L0 norm's contribution of each gate."""
    return torch.sigmoid(log_alpha - _SHIFT)


def sample(log_alpha: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic gate values in [0, 1] (the reparameterised hard-concrete sample)."""
    u = torch.rand(log_alpha.shape, generator=generator, dtype=log_alpha.dtype,
                   device=log_alpha.device).clamp(1e-6, 1 - 1e-6)
    s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / BETA)
    return (s * (ZETA - GAMMA) + GAMMA).clamp(0.0, 1.0)


def deterministic(log_alpha: torch.Tensor) -> torch.Tensor:
    """The gate's value at test time; 0 means closed."""
    return (torch.sigmoid(log_alpha) * (ZETA - GAMMA) + GAMMA).clamp(0.0, 1.0)
