"""Coordinate grids: where the base network is evaluated."""

import torch


def grid(shape: tuple[int, ...]) -> torch.Tensor:
    """Coordinates of every point of a patch of ``shape``, in [-1, 1] per axis.

    Returns a float32 tensor of shape ``(prod(shape), len(shape))`` in C order, so that
    ``values.reshape(shape)`` lines up with it.
    """
    axes = [torch.linspace(-1.0, 1.0, n) if n > 1 else torch.zeros(1) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)
