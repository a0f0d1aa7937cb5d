"""The base network: a SIREN whose hidden layers are shifted by modulations of a latent (COIN++).

Every patch is described by one latent vector. A single linear map turns it into one shift per
hidden unit of every layer; the sine layers themselves are shared by all patches. One forward pass
evaluates a batch of patches, each with its own latent.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class ModulatedSiren(nn.Module):
    def __init__(self, dim_in: int, width: int, depth: int, latent_dim: int, w0: float = 30.0):
        if not 1 <= dim_in <= 4:
            raise ValueError(f"coordinates must have 1 to 4 dimensions, not {dim_in}")
        super().__init__()
        self.dim_in, self.width, self.depth, self.latent_dim, self.w0 = (
            dim_in, width, depth, latent_dim, w0)
        dims = [dim_in] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, 1)
        self.to_shifts = nn.Linear(latent_dim, width * depth)
        self._siren_init()

    def _siren_init(self) -> None:
        # Sitzmann et al.: keeps pre-activations spread over a few periods of the sine.
        with torch.no_grad():
            for i, layer in enumerate(self.hidden):
                fan_in = layer.in_features
                bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / self.w0
                layer.weight.uniform_(-bound, bound)
                layer.bias.uniform_(-bound, bound)
            bound = math.sqrt(6.0 / self.width) / self.w0
            self.out.weight.uniform_(-bound, bound)
            self.out.bias.zero_()
            # Zero shifts for a zero latent, but a non-zero map: with a zero weight the latent's
            # gradient is zero too, and meta-learning never leaves that saddle point.
            self.to_shifts.bias.zero_()

    def forward(self, coords: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """Values at ``coords`` (N, dim_in) for each latent in ``latents`` (B, latent_dim): (B, N)."""
        return self.evaluate(coords, self.shifts(latents))

    def shifts(self, latents: torch.Tensor) -> torch.Tensor:
        """Each latent's shift of every hidden unit: (B, depth, 1, width), w0 included."""
        # w0 scales the small weights and shifts, not every pre-activation: one elementwise pass
        # fewer over the (B, N, width) activations per layer, where a forward pass spends most.
        return (self.w0 * self.to_shifts(latents)).view(latents.shape[0], self.depth, 1, self.width)

    def evaluate(self, coords: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        """Values at ``coords`` (N, dim_in) under ``shifts`` (B, depth, 1 or N, width): (B, N)."""
        # Without autograd (decoding, evaluating) the layers work in place: the same arithmetic,
        # so the same bits, without a new (B, N, width) tensor for each sum and sine.
        in_place = not torch.is_grad_enabled()
        h = coords.unsqueeze(0)
        for i, layer in enumerate(self.hidden):
            pre = F.linear(h, self.w0 * layer.weight)
            bias = shifts[:, i] + self.w0 * layer.bias
            if in_place and pre.shape == torch.broadcast_shapes(pre.shape, bias.shape):
                h = pre.add_(bias).sin_()
            else:
                h = torch.sin(pre + bias)
        # The output layer as a product and a sum over the last axis, not a matrix-vector
        # product: MKL splits a GEMV's work by thread count, and on an AVX-512 Xeon its result
        # moved by an ulp between 1 and 2 threads; a row's sum is one thread's, in one order.
        weight, bias = self.out.weight[0], self.out.bias[0]
        if in_place:
            return h.mul_(weight).sum(-1).add_(bias)
        return (h * weight).sum(-1) + bias

    def latent_jacobian(self, coords: torch.Tensor, latents: torch.Tensor,
                        create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(values (B, N), their Jacobian with respect to each latent (B, N, latent_dim)).

        A point's value depends on the latent only through the shifts, and on no other point's
        shifts, so one backward pass through a copy of the shifts per point gives every point's
        gradient at once; the latent -> shift map's weight takes it to latents. With
        ``create_graph`` both stay differentiable (meta-learning through them).
        """
        n = coords.shape[0]
        with torch.enable_grad():
            shifts = self.shifts(latents if create_graph else latents.detach())
            shifts = shifts.expand(-1, -1, n, -1).clone()
            if not create_graph:
                shifts = shifts.detach().requires_grad_(True)
            values = self.evaluate(coords, shifts)
            (per_point,) = torch.autograd.grad(values.sum(), shifts, create_graph=create_graph)
        per_point = per_point.permute(0, 2, 1, 3).reshape(len(latents), n, self.depth * self.width)
        weight = self.to_shifts.weight if create_graph else self.to_shifts.weight.detach()
        jacobian = per_point @ (self.w0 * weight)
        return (values if create_graph else values.detach()), jacobian

    def architecture(self) -> dict:
        return {"dim_in": self.dim_in, "width": self.width, "depth": self.depth,
                "latent_dim": self.latent_dim, "w0": self.w0}

    @staticmethod
    def parameter_shapes(dim_in: int, width: int, depth: int, latent_dim: int,
                         w0: float = 30.0) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor in the state dict of this architecture, without building it."""
        dims = [dim_in] + [width] * depth
        shapes = {}
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            shapes[f"hidden.{i}.weight"], shapes[f"hidden.{i}.bias"] = (b, a), (b,)
        shapes.update({"out.weight": (1, width), "out.bias": (1,),
                       "to_shifts.weight": (width * depth, latent_dim),
                       "to_shifts.bias": (width * depth,)})
        return shapes
