"""Error bounds: the network predicts, a residual coder keeps every finite value within a bound.

The bound is absolute (``max_error``) or a fraction of each chunk's value range
(``relative_error``: not a pointwise relative bound). See coding/residual.py for the quantizer
and the slack that keeps the bound when another machine decodes.
"""

import numpy as np

from ..coding import residual
from ..coding.container import Container, Kind
from ..coding.normalise import Normalisation
from ..coding.quantize import LatentQuantizer
from .base import Chunk, Mode, cast, positive
from .latents import fit, latent_fields, latents_of, predict


class Bounded(Mode):
    """Every finite value within ``max_error``, or within ``relative_error`` x the chunk's range."""

    def __init__(self, latent_bits: float = 6.5, max_error: float | None = None,
                 relative_error: float | None = None):
        if (max_error is None) == (relative_error is None):
            raise ValueError("an error bound is max_error or relative_error: give one")
        LatentQuantizer.resolution(latent_bits)
        self.latent_bits = latent_bits
        self.max_error = None if max_error is None else positive("max_error", max_error)
        self.relative_error = (None if relative_error is None
                               else positive("relative_error", relative_error))
        self.absolute_bound = self.max_error

    def settings(self) -> dict:
        bound = ({"max_error": self.max_error} if self.max_error is not None
                 else {"relative_error": self.relative_error})
        return {"latent_bits": self.latent_bits, **bound}

    @property
    def promise(self) -> str:
        if self.max_error is not None:
            return f"every finite value within {self.max_error:g} of the original"
        return (f"every finite value within {self.relative_error:g} x its chunk's range "
                "(max - min) of the original")

    @property
    def label(self) -> str:
        if self.max_error is not None:
            return f"+-{self.max_error:g}"
        return f"+-{self.relative_error:g} range"

    def bound(self, values: np.ndarray) -> float:
        """The absolute bound for a chunk's finite ``values``."""
        if self.max_error is not None:
            return self.max_error
        exact = values.astype(np.float64)
        return self.relative_error * float(exact.max() - exact.min())

    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        bound = self.bound(chunk.values)
        magnitude = _magnitude(chunk.norm)
        half = residual.half_step(bound, chunk.array.dtype, magnitude)
        if not half > 0:
            raise ValueError(f"an error bound of {bound:.3g} is below the resolution of "
                             f"{chunk.array.dtype} data of this magnitude: store it losslessly "
                             "instead")
        quantizer = model.quantizer(*LatentQuantizer.resolution(self.latent_bits))
        # Residuals pay for every error of a bounded chunk's prediction (measured: 1-3% more bytes
        # at bounds of 0.05-0.5 K on A1B with rate-distortion symbols), so it keeps nearest rounding.
        symbols = quantizer.quantize(fit(chunk, model, inner_steps, quantizer))
        prediction = predict(model, quantizer.dequantize(symbols), chunk.array.shape, chunk.norm,
                             exact=True)
        exact = chunk.values.astype(np.float64)
        dtype = chunk.array.dtype
        residuals, exceptions = residual.quantize(exact, prediction[chunk.finite], half, bound,
                                                  magnitude, dtype, lambda v: cast(v, dtype))
        coded = residual.encode(residuals, exceptions, chunk.values[exceptions])
        return Container(kind=Kind.BOUNDED, max_error=bound, residuals=coded,
                         **latent_fields(chunk, quantizer, symbols))


def decode(c: Container, model, finite: np.ndarray) -> np.ndarray:
    values = predict(model, latents_of(c, model), c.shape, c.normalisation, exact=True)
    out = cast(values, c.dtype)
    half = residual.half_step(c.max_error, c.dtype, _magnitude(c.normalisation))
    symbols, exceptions, exact = residual.decode(c.residuals, int(finite.sum()), c.dtype)
    kept = cast(residual.reconstruct(values[finite], symbols, half), c.dtype)
    kept[exceptions] = exact
    out[finite] = kept
    return out


def _magnitude(norm: Normalisation) -> float:
    """A bound on the values' magnitude that encoder and decoder derive alike (for slack)."""
    return abs(norm.offset) + 16.0 * norm.scale
