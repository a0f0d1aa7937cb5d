"""The inner loop: a few gradient steps on the latents, from zero, with per-dimension step sizes.

The same function serves meta-learning (``create_graph=True`` so the outer loop can
differentiate through the steps) and encoding (plain steps, no graph kept).
"""

import torch

from .network import ModulatedSiren


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each patch over its valid points: (B,). ``weight`` is 1 or 0."""
    return ((pred - target) ** 2 * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


def fit_latents(net: ModulatedSiren, coords: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor, step_sizes: torch.Tensor, steps: int,
                create_graph: bool = False) -> torch.Tensor:
    """Latents (B, latent_dim) that fit ``target`` (B, N) at ``coords`` (N, d).

    Points whose ``weight`` is 0 (padding, NaNs) are "don't care": they never enter the loss.
    The per-patch losses are summed, so each latent follows its own patch's gradient.
    """
    latents = torch.zeros(target.shape[0], net.latent_dim, dtype=target.dtype,
                          device=target.device, requires_grad=True)
    for _ in range(steps):
        loss = masked_mse(net(coords, latents), target, weight).sum()
        (grad,) = torch.autograd.grad(loss, latents, create_graph=create_graph)
        latents = latents - step_sizes * grad
        if not create_graph:
            latents = latents.detach().requires_grad_(True)
    return latents if create_graph else latents.detach()
