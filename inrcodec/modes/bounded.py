"""Error bounds: the network predicts, a residual coder keeps every finite value within a bound.

The bound is absolute (``max_error``) or a fraction of each chunk's value range
(``relative_error``: not a pointwise relative bound). See coding/residual.py for the quantizer
and the slack that keeps the bound when another machine decodes.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..coding import residual
from ..coding.container import Container, Kind
from ..coding.quantize import LatentQuantizer
from . import spatial
from .base import Chunk, Mode, cast, errors, positive
from .network import fit, hopeless_rms, latent_fields, latents_of, predict


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
        return self.relative_error * float(exact.max() - exact.min())

    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        bound = self.bound(chunk.values)
        prediction = None
        if residual.half_step(bound, chunk.array.dtype, chunk.norm) > 0:
            quantizer = model.quantizer(*LatentQuantizer.resolution(self.latent_bits))
            fitted = fit(chunk, model, inner_steps, quantizer, give_up_above=hopeless_rms(bound))
            prediction = None if fitted is None else Prediction.of(chunk, model, quantizer, fitted)
        return within(chunk, model, bound, prediction)[0]


@dataclass
class Prediction:
    """The network's prediction of a chunk from quantized latents (float64, as every machine
    decodes it) and the Container fields that carry those latents."""

    values: np.ndarray
    fields: dict

    @classmethod
    def of(cls, chunk: Chunk, model, quantizer: LatentQuantizer, fitted: np.ndarray) -> "Prediction":
        # Residuals pay for every error of the prediction (measured: 1-3% more bytes at bounds
        # of 0.05-0.5 K on A1B with rate-distortion symbols), so they keep nearest rounding.
        symbols = quantizer.quantize(fitted)
        values = predict(model, quantizer.dequantize(symbols), chunk.array.shape, chunk.norm,
                         exact=True)
        return cls(values, latent_fields(chunk, quantizer, symbols))


def within(chunk: Chunk, model, bound: float,
           prediction: Prediction | None) -> tuple[Container, np.ndarray]:
    """The shortest way to store the chunk with every finite value within ``bound``, and its
    decoded values: spatial prediction alone, or the network's ``prediction`` (None: not worth
    fitting, as ``network.fit``'s gate found) with its residual coded value by value or by
    spatial prediction. Where the network predicts poorly its residual holds all of the field's
    structure, and the spatial predictor alone wins."""
    array, finite, header = chunk.array, chunk.finite, chunk.header
    section, decoded = spatial.encode_spatial(array, finite, bound)
    candidates = [(Container(kind=Kind.SPATIAL, max_error=bound, residuals=section, **header),
                   decoded)]
    half = residual.half_step(bound, array.dtype, chunk.norm)
    if half > 0 and prediction is not None:
        section, decoded = _encode_residual(array, finite, prediction.values, bound, half, chunk.norm)
        candidates.append((Container(kind=Kind.BOUNDED, max_error=bound, residuals=section,
                                     **prediction.fields), decoded))
        section, decoded = spatial.encode_residual(array, finite, prediction.values, bound,
                                                   chunk.norm)
        candidates.append((Container(kind=Kind.BOUNDED_SPATIAL, max_error=bound,
                                     residuals=section, **prediction.fields), decoded))
    return min(candidates, key=lambda c: len(c[0].to_bytes(model.hash)))


def _encode_residual(array, finite, prediction, bound, half, norm) -> tuple[bytes, np.ndarray]:
    """The network's residual coded value by value (kind BOUNDED), and the decoded chunk."""
    values, dtype = array[finite], array.dtype
    exact = values.astype(np.float64)
    symbols, missed = residual.quantize(exact, prediction[finite], half, bound, norm, dtype,
                                        lambda v: cast(v, dtype))
    decoded = cast(prediction, dtype)
    kept = cast(residual.reconstruct(prediction[finite], symbols, half), dtype)
    kept[missed] = values[missed]
    decoded[finite] = kept
    return residual.encode(symbols, missed, values[missed]), decoded


def decode(c: Container, model, finite: np.ndarray) -> np.ndarray:
    values = predict(model, latents_of(c, model), c.shape, c.normalisation, exact=True)
    if c.kind == Kind.BOUNDED_SPATIAL:
        return spatial.decode_residual(c.residuals, values, c.dtype, finite, c.max_error,
                                       c.normalisation)
    out = cast(values, c.dtype)
    half = residual.half_step(c.max_error, c.dtype, c.normalisation)
    symbols, exceptions, exact = residual.decode(c.residuals, int(finite.sum()), c.dtype)
    kept = cast(residual.reconstruct(values[finite], symbols, half), c.dtype)
    kept[exceptions] = exact
    out[finite] = kept
    return out


def decode_spatial(c: Container, model, finite: np.ndarray) -> np.ndarray:
    return spatial.decode_spatial(c.residuals, c.shape, c.dtype, finite, c.max_error)
