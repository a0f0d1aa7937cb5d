"""Coordinate grids: where the base network is evaluated."""

import numpy as np
import torch


def grid(shape: tuple[int, ...]) -> torch.Tensor:
    """Coordinates of every point of a patch of ``shape``, in [-1, 1] per axis.

    Returns a float32 tensor of shape ``(prod(shape), len(shape))`` in C order, so that
    ``values.reshape(shape)`` lines up with it.
    """
    axes = [torch.from_numpy(axis(n)) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)


def axis(n: int) -> np.ndarray:
    """``n`` float32 points from -1 to 1 by an exact formula, the same on every machine.

    ``torch.linspace`` gives other values on another CPU path (issue 32: 19 of 49 points differ
    under ATEN_CPU_CAPABILITY=default), which moved bounded chunks' float64 predictions past
    their slack. This is the formula of its AVX2/AVX-512 kernel (each half stepped from its own
    end, one rounding to float32), so every chunk written so far decodes as before: equal to it
    for every n up to 8192 (tests/test_network.py)."""
    if n == 1:
        return np.zeros(1, np.float32)
    step = np.float64(np.float32(2) / np.float32(n - 1))
    i = np.arange(n, dtype=np.float64)  # i * step is exact in float64: one rounding below
    return np.where(i < n // 2, -1.0 + i * step, 1.0 - (n - 1 - i) * step).astype(np.float32)
