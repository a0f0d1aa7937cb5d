"""Storing a chunk within an absolute bound, the three ways the bounded kinds allow: spatial
prediction alone (SPATIAL), the network's prediction with its residual coded value by value
(BOUNDED, coding/residual.py) or by spatial prediction (BOUNDED_SPATIAL, spatial.py); the
shortest is kept. The bounded modes and the PSNR floor's bound search both call ``within``."""

from dataclasses import dataclass

import numpy as np

from ..chunk import Chunk, cast
from ..coding import residual
from ..coding.container import Container, Kind
from ..coding.quantize import LatentQuantizer
from . import spatial
from .network import latent_fields, prediction_of, quantized_values


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
        values = quantized_values(model, quantizer, symbols, chunk.array.shape, chunk.norm,
                                  exact=True)
        return cls(values, latent_fields(chunk, quantizer, symbols))


def within(chunk: Chunk, model, bound: float, prediction: Prediction | None,
           alone: tuple[Container, np.ndarray] | None = None) -> tuple[Container, np.ndarray]:
    """The shortest way to store the chunk with every finite value within ``bound``, and its
    decoded values: spatial prediction alone, or the network's ``prediction`` (None: not worth
    fitting, as ``network.fit``'s gate found) with its residual coded value by value or by
    spatial prediction. Where the network predicts poorly its residual holds all of the field's
    structure, and the spatial predictor alone wins. ``alone``: what this gave without a
    prediction, where it was found already."""
    array, finite, header = chunk.array, chunk.finite, chunk.header
    if alone is not None and alone[0].kind == Kind.RAW:
        return alone
    if not spatial.representable(bound, array.dtype, chunk.values):  # only the values
        fortran = header["fortran_order"]  # themselves keep a bound this fine (5e-324)
        raw = {k: v for k, v in header.items() if k != "mask"}
        return (Container(kind=Kind.RAW, section=array.tobytes(order="F" if fortran else "C"),
                          **raw), array.copy())
    if alone is None:
        section, decoded = spatial.encode_spatial(array, finite, bound)
        alone = Container(kind=Kind.SPATIAL, bound=bound, section=section, **header), decoded
    candidates = [alone]
    half = residual.half_step(bound, array.dtype, chunk.norm)
    if half > 0 and prediction is not None:
        section, decoded = _encode_residual(array, finite, prediction.values, bound, half, chunk.norm)
        candidates.append((Container(kind=Kind.BOUNDED, bound=bound, section=section,
                                     **prediction.fields), decoded))
        section, decoded = spatial.encode_residual(array, finite, prediction.values, bound,
                                                   chunk.norm)
        candidates.append((Container(kind=Kind.BOUNDED_SPATIAL, bound=bound,
                                     section=section, **prediction.fields), decoded))
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
    values = prediction_of(c, model, exact=True)
    if c.kind == Kind.BOUNDED_SPATIAL:
        return spatial.decode_residual(c.section, values, c.dtype, finite, c.bound,
                                       c.normalisation)
    out = cast(values, c.dtype)
    half = residual.half_step(c.bound, c.dtype, c.normalisation)
    symbols, exceptions, exact = residual.decode(c.section, int(finite.sum()), c.dtype)
    kept = cast(residual.reconstruct(values[finite], symbols, half), c.dtype)
    kept[exceptions] = exact
    out[finite] = kept
    return out


def decode_spatial(c: Container, model, finite: np.ndarray) -> np.ndarray:
    return spatial.decode_spatial(c.section, c.shape, c.dtype, finite, c.bound)
