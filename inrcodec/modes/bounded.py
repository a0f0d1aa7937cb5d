"""Error bounds: the network predicts, a residual coder keeps every finite value within a bound.

The bound is absolute (``max_error``) or a fraction of each chunk's value range
(``relative_error``: not a pointwise relative bound). See coding/residual.py for the quantizer
and the slack that keeps the bound when another machine decodes.
"""

import math

import numpy as np

from ..chunk import Chunk, errors
from ..coding import residual
from ..coding.container import Container
from ..coding.quantize import LatentQuantizer
from ..sections.bounds import Prediction, alone_way, made, way_size, whole_search, within
from ..sections.network import fit, least_latent_bytes
from .base import MOST_ERROR, Mode, positive


class Bounded(Mode):
    """Every finite value within ``max_error``, or within ``relative_error`` x the chunk's range."""

    pointwise = True

    def __init__(self, latent_bits: float = 6.5, max_error: float | None = None,
                 relative_error: float | None = None):
        if (max_error is None) == (relative_error is None):
            raise ValueError("an error bound is max_error or relative_error: give one")
        LatentQuantizer.resolution(latent_bits)
        self.latent_bits = latent_bits
        self.max_error = None if max_error is None else positive("max_error", max_error, MOST_ERROR)
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

    def measure(self, original, decoded, stored_bytes, chunk_values):
        x, error = errors(original, decoded)
        bound, worst = self.bound(x) if x.size else math.inf, float(error.max(initial=0.0))
        if self.max_error is not None:
            return worst, bool(worst <= bound)
        return (worst / bound if bound > 0 else 0.0 if worst == 0 else math.inf), bool(worst <= bound)

    def describe(self, worst: float) -> str:
        if self.max_error is not None:
            return f"max error {worst:.4g}"
        return f"max error {worst:.3g} x chunk bound"

    def bound(self, values: np.ndarray) -> float:
        """The absolute bound for a chunk's finite ``values``."""
        if self.max_error is not None:
            return self.max_error
        exact = values.astype(np.float64)
        with np.errstate(over="ignore"):  # refused just below, as Normalisation.fit refuses
            spread = float(exact.max() - exact.min())
        if not math.isfinite(spread):
            raise ValueError("values too large for inrcodec (their range overflows float64): "
                             "rescale the data first")
        return self.relative_error * spread

    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        bound = self.bound(chunk.values)
        # Spatial prediction alone (or the values), planned: its search made whole only where
        # the network's ways come near it (``within``).
        alone = alone_way(chunk, bound, first_sweep=True)
        if not isinstance(alone[0], Container) and alone[0].extrapolated:
            alone = made(whole_search(alone))  # a large chunk's estimate is too rough to gate the network
        quantizer = model.quantizer(*LatentQuantizer.resolution(self.latent_bits))
        # The network is fitted only where its latents alone would take fewer bytes than that.
        fitted = None
        if residual.half_step(bound, chunk.array.dtype, chunk.norm) > 0 and least_latent_bytes(
                chunk.array.shape, model, quantizer) < way_size(alone, model):
            fitted = fit(chunk, model, inner_steps, quantizer, bound=bound)
        prediction = None if fitted is None else Prediction.of(chunk, model, quantizer, fitted)
        return within(chunk, model, bound, prediction, alone)[0]
