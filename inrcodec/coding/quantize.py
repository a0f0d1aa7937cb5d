"""Uniform quantization of latents with one step for every dimension.

``bits`` sets the step: ``step = 8 * max(std) / 2**bits``, so ``bits`` fixed-length bits would
cover +-4 standard deviations of the widest latent dimension. One shared step spends bits where
the latents vary (reverse water-filling): a dimension that barely moves costs almost nothing
once entropy-coded. Symbols are integers in ``[-2**(bits-1), 2**(bits-1))``.
"""

from dataclasses import dataclass

import numpy as np

MIN_BITS, MAX_BITS = 1, 12


@dataclass(frozen=True, eq=False)
class LatentQuantizer:
    mean: np.ndarray  # (latent_dim,) float32, from the model
    std: np.ndarray
    bits: int

    def __post_init__(self):
        if not (isinstance(self.bits, int) and MIN_BITS <= self.bits <= MAX_BITS):
            raise ValueError(f"latent bits must be an integer from {MIN_BITS} to {MAX_BITS}, "
                             f"not {self.bits!r}")

    @property
    def step(self) -> float:
        # The floor keeps a degenerate model (latents that never moved) usable.
        return 8.0 * max(float(np.max(self.std)), 1e-6) / 2.0 ** self.bits

    @property
    def low(self) -> int:
        return -(2 ** (self.bits - 1))

    @property
    def alphabet_size(self) -> int:
        return 2 ** self.bits

    def quantize(self, latents: np.ndarray) -> np.ndarray:
        q = np.rint((latents.astype(np.float64) - self.mean) / self.step)
        return np.clip(q, self.low, self.low + self.alphabet_size - 1).astype(np.int32)

    def dequantize(self, symbols: np.ndarray) -> np.ndarray:
        return (self.mean.astype(np.float64) + symbols * self.step).astype(np.float32)
