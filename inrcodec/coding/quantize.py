"""Uniform quantization of latents with one step for every dimension.

A model may carry a latent basis (see nn/basis.py): its latents are then quantized as their
coefficients in that basis, ``latents = mean + coefficients @ basis``, whose dimensions are
uncorrelated and move the decoded values equally per unit, so that one shared step is where a
uniform quantizer does best; ``std`` is then the coefficients' spread. Without one, the
coefficients are the latents minus their mean.

``bits`` sets the step: ``step = 8 * max(std) / 2**bits``, so ``bits`` fixed-length bits would
cover +-4 standard deviations of the widest latent dimension. One shared step spends bits where
the latents vary (reverse water-filling): a dimension that barely moves costs almost nothing
once entropy-coded. Symbols are integers in ``[-2**(bits+2), 2**(bits+2))``
(``[-2**(bits-1), 2**(bits-1))`` in format versions 1-2, see HEADROOM). Size-budget chunks add
a ``fraction`` of sixteenths of a bit: ``step = 8 * max(std) / 2**(bits + fraction/16)`` and
twice the alphabet, so their resolution can follow a budget closely. Format version 3 lets
every chunk do the same: a resolution such as 6.375 bits is ``bits=6, fraction=6``.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

MIN_BITS, MAX_BITS = 1, 12
FRACTIONS = 16  # size-budget chunks refine the resolution in sixteenths of a bit
# Format version 3 gives the alphabet 3 more bits (8x the range) than versions 1-2: the latents
# of a patch that is mostly padding or NaN can lie far outside the training spread, and clipping
# them cost 0.3 of the chunk's relative RMSE in one test. Symbols that never occur cost almost
# nothing: the tails of the tables hold 2^-20 each.
HEADROOM = 3
# 2 ** (f / 16) written out, so every machine derives the same step (and entropy tables) from it.
_SIXTEENTHS = (1.0, 1.0442737824274138, 1.0905077326652577, 1.1387886347566916,
               1.189207115002721, 1.241857812073484, 1.2968395546510096, 1.3542555469368927,
               1.4142135623730951, 1.4768261459394993, 1.5422108254079407, 1.6104903319492543,
               1.681792830507429, 1.7562521603732995, 1.8340080864093424, 1.9152065613971472)


@dataclass(frozen=True, eq=False)
class LatentQuantizer:
    mean: np.ndarray  # (latent_dim,) float32, from the model
    std: np.ndarray
    bits: int
    fraction: int = 0  # extra resolution in sixteenths of a bit
    basis: np.ndarray | None = None  # (latent_dim, latent_dim): coefficients -> latents
    headroom: int = HEADROOM  # 0 for format versions 1-2

    def __post_init__(self):
        if not (isinstance(self.bits, int) and MIN_BITS <= self.bits <= MAX_BITS):
            raise ValueError(f"latent bits must be an integer from {MIN_BITS} to {MAX_BITS}, "
                             f"not {self.bits!r}")
        if not (isinstance(self.fraction, int) and 0 <= self.fraction < FRACTIONS):
            raise ValueError(f"latent bit fraction must be an integer from 0 to {FRACTIONS - 1}")

    @classmethod
    def resolution(cls, latent_bits: float) -> tuple[int, int]:
        """(bits, fraction) of a resolution given in bits, a multiple of 1/16 such as 6.375."""
        number = isinstance(latent_bits, int | float) and not isinstance(latent_bits, bool) \
            and math.isfinite(latent_bits)
        sixteenths = latent_bits * FRACTIONS if number else 0.5
        if not (number and sixteenths == int(sixteenths) and MIN_BITS <= latent_bits <= MAX_BITS):
            raise ValueError(f"latent bits must be a multiple of 1/{FRACTIONS} from {MIN_BITS} to "
                             f"{MAX_BITS} (such as 5 or 6.375), not {latent_bits!r}")
        return divmod(int(sixteenths), FRACTIONS)

    @functools.cached_property
    def analysis(self) -> np.ndarray | None:
        """latents -> coefficients (encoder only: decoding never inverts the basis)."""
        return None if self.basis is None else np.linalg.inv(self.basis.astype(np.float64))

    @functools.cached_property
    def step(self) -> float:
        # The floor keeps a degenerate model (latents that never moved) usable.
        return 8.0 * max(float(np.max(self.std)), 1e-6) / (2.0 ** self.bits
                                                            * _SIXTEENTHS[self.fraction])

    @functools.cached_property
    def tables_key(self) -> tuple:
        """(std as floats, step, low, alphabet size): what the entropy tables depend on, the
        key of their caches (entropy.py), made once (a reader asks for it per chunk)."""
        return tuple(float(s) for s in self.std), self.step, self.low, self.alphabet_size

    @property
    def low(self) -> int:
        return -self.alphabet_size // 2

    @property
    def alphabet_size(self) -> int:
        # A fraction shrinks the step below 8 * max(std) / 2**bits: twice the symbols keep the
        # range covered.
        return 2 ** (self.bits + (self.fraction > 0) + self.headroom)

    def coefficients(self, latents: np.ndarray) -> np.ndarray:
        """float64 coefficients of ``latents`` in the basis, the mean taken off."""
        coefficients = latents.astype(np.float64) - self.mean
        return coefficients if self.analysis is None else coefficients @ self.analysis

    def latents(self, coefficients: np.ndarray) -> np.ndarray:
        """float32 latents of (float64) ``coefficients``."""
        if self.basis is not None:
            coefficients = coefficients @ self.basis.astype(np.float64)
        return (self.mean.astype(np.float64) + coefficients).astype(np.float32)

    def quantize(self, latents: np.ndarray) -> np.ndarray:
        q = np.rint(self.coefficients(latents) / self.step)
        return np.clip(q, self.low, self.low + self.alphabet_size - 1).astype(np.int32)

    def dequantize(self, symbols: np.ndarray) -> np.ndarray:
        return self.latents(symbols * self.step)
