"""The inner loop: a few gradient steps on the latents, from zero, with per-dimension step sizes.

The same function serves meta-learning (``create_graph=True`` so the outer loop can
differentiate through the steps) and encoding (plain steps, no graph kept). An encoder's first
step is a matrix product (``Linearisation``): every patch starts from the same zero latent.
"""

import torch

from . import gates
from .network import ModulatedSiren


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each patch over its valid points: (B,). ``weight`` is 1 or 0."""
    return ((pred - target) ** 2 * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


class Linearisation:
    """The network at a zero latent on one grid of points: its values ``f0`` (N,) and their
    Jacobian ``J`` (N, latent_dim) with respect to the latent.

    Every patch's first inner step starts from that same zero latent, so its gradient is
    ``2 / n * ((f0 - target) * weight) @ J``: one matrix product per patch in place of a forward
    and a backward pass through the network (a third of an encoder's 3-step fit), and, in
    meta-learning (``create_graph``), one patch's forward and backward where a batch took one
    each.
    """

    def __init__(self, net: ModulatedSiren, coords: torch.Tensor, create_graph: bool = False):
        zero = torch.zeros(1, net.latent_dim, dtype=coords.dtype, device=coords.device)
        value, jacobian = net.latent_jacobian(coords, zero, create_graph)
        self.value, self.jacobian = value[0], jacobian[0]  # (N,), (N, latent_dim)

    def first_step(self, target: torch.Tensor, weight: torch.Tensor,
                   step_sizes: torch.Tensor) -> torch.Tensor:
        """The latents after one inner step from zero, for each patch of ``target`` (B, N)."""
        residual = (self.value - target) * weight
        grad = 2 * (residual @ self.jacobian) / weight.sum(-1, keepdim=True).clamp_min(1.0)
        return -step_sizes * grad


def fit_latents(net: ModulatedSiren, coords: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor, step_sizes: torch.Tensor, steps: int,
                create_graph: bool = False, linearisation: Linearisation | None = None,
                linearise: bool = True) -> torch.Tensor:
    """Latents (B, latent_dim) that fit ``target`` (B, N) at ``coords`` (N, d).

    Points whose ``weight`` is 0 (padding, NaNs) are "don't care": they never enter the loss.
    The per-patch losses are summed, so each latent follows its own patch's gradient. The first
    step is a ``Linearisation``'s matrix product: ``linearisation`` (of ``net`` on ``coords``,
    an encoder's, cached) or one built on the spot (in the graph, when meta-learning);
    ``linearise=False`` takes it by autograd like the others, to measure what it saves.
    """
    latents = torch.zeros(target.shape[0], net.latent_dim, dtype=target.dtype,
                          device=target.device, requires_grad=True)
    if steps and linearise:
        linearisation = linearisation or Linearisation(net, coords, create_graph=create_graph)
        latents = linearisation.first_step(target, weight, step_sizes)
        if not create_graph:
            latents = latents.detach().requires_grad_(True)
        steps -= 1
    for _ in range(steps):
        loss = masked_mse(net(coords, latents), target, weight).sum()
        (grad,) = torch.autograd.grad(loss, latents, create_graph=create_graph)
        latents = latents - step_sizes * grad
        if not create_graph:
            latents = latents.detach().requires_grad_(True)
    return latents if create_graph else latents.detach()


def fit_in_batches(net: ModulatedSiren, step_sizes: torch.Tensor, coords: torch.Tensor,
                   target: torch.Tensor, weight: torch.Tensor, steps: int,
                   batch_size: int = 256, linearisation: Linearisation | None = None
                   ) -> torch.Tensor:
    """``fit_latents`` over ``batch_size`` patches at a time: bounds memory on large inputs."""
    linearisation = linearisation or Linearisation(net, coords)  # one for every batch
    return torch.cat([fit_latents(net, coords, target[i:i + batch_size], weight[i:i + batch_size],
                                  step_sizes, steps, linearisation=linearisation)
                      for i in range(0, len(target), batch_size)])


def errors_in_batches(net: ModulatedSiren, coords: torch.Tensor, latents: torch.Tensor,
                      target: torch.Tensor, weight: torch.Tensor,
                      batch_size: int = 256) -> torch.Tensor:
    """``masked_mse`` of each patch (B,) with ``latents``, ``batch_size`` patches at a time."""
    with torch.no_grad():
        return torch.cat([masked_mse(net(coords, latents[i:i + batch_size]),
                                     target[i:i + batch_size], weight[i:i + batch_size])
                          for i in range(0, len(target), batch_size)])


def fit_gated_latents(net: ModulatedSiren, coords: torch.Tensor, target: torch.Tensor,
                      weight: torch.Tensor, step_sizes: torch.Tensor, gate_init: torch.Tensor,
                      gate_steps: torch.Tensor, steps: int, penalty: torch.Tensor | float = 0.0,
                      generator: torch.Generator | None = None,
                      create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents and gate log-odds (both (B, latent_dim)) fitted together (L0onie's inner loop).

    Each step lowers ``mse(z * gate) + penalty * (expected fraction of open gates)`` for every
    patch, the gates sampled (hard concrete), so a patch learns which latents it can drop.
    ``penalty`` may be one number or one per patch.
    """
    batch = (target.shape[0], net.latent_dim)
    latents = torch.zeros(batch, dtype=target.dtype, device=target.device, requires_grad=True)
    log_alpha = gate_init.expand(batch).clone()
    if not create_graph:
        log_alpha = log_alpha.detach().requires_grad_(True)
    penalty = torch.as_tensor(penalty, dtype=target.dtype, device=target.device).reshape(-1)
    for _ in range(steps):
        pred = net(coords, latents * gates.sample(log_alpha, generator))
        loss = (masked_mse(pred, target, weight)
                + penalty * gates.open_probability(log_alpha).mean(-1)).sum()
        grad_z, grad_a = torch.autograd.grad(loss, (latents, log_alpha), create_graph=create_graph)
        latents, log_alpha = latents - step_sizes * grad_z, log_alpha - gate_steps * grad_a
        if not create_graph:
            latents = latents.detach().requires_grad_(True)
            log_alpha = log_alpha.detach().requires_grad_(True)
    if create_graph:
        return latents, log_alpha
    return latents.detach(), log_alpha.detach()
