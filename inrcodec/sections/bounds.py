"""Storing a chunk within an absolute bound, the three ways the bounded kinds allow: spatial
prediction alone (SPATIAL), the network's prediction with its residual coded value by value
(BOUNDED, coding/residual.py) or by spatial prediction (BOUNDED_SPATIAL, spatial.py); the
shortest is kept. The bounded modes and the PSNR floor's bound search both call ``within``."""

import math
from dataclasses import dataclass

import numpy as np

from ..chunk import Chunk, cast
from ..coding import residual
from ..coding.container import Container, Kind
from ..coding.quantize import LatentQuantizer
from . import spatial
from .network import latent_fields, prediction_of, quantized_values

ESTIMATE_MARGIN = 0.05  # a planned way estimated this much over the smallest is not made
EXTRAPOLATED_MARGIN = 1.0  # the same, where the estimate is a block's of a larger chunk
# Spatial prediction alone is searched past its first trial sweep only where that sweep's
# estimate is within this factor of being made: the rest of the search lowered the first
# sweep's bytes by at most 1.17x over a benchmark dataset's test chunks at any bound, and 1.37x
# on any one chunk (docs/interp-search.md, "first sweep only").
SEARCH_GAIN = 2.0


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

    def least_bytes(self, kind: Kind, model, bound: float = 0.0) -> int:
        """The bytes of a ``kind`` container of these latents with an empty section: fewer
        than it takes with any section."""
        return len(Container(kind=kind, bound=bound, **self.fields).to_bytes(model.hash))


def within(chunk: Chunk, model, bound: float, prediction: Prediction | None,
           alone: tuple | None = None, settings: dict | None = None) -> tuple[Container, np.ndarray]:
    """The shortest way to store the chunk with every finite value within ``bound``, and its
    decoded values: spatial prediction alone, or the network's ``prediction`` (None: not worth
    fitting, as ``network.fit``'s gate found) with its residual coded value by value or by
    spatial prediction. Where the network predicts poorly its residual holds all of the field's
    structure, and the spatial predictor alone wins. ``alone``: ``alone_way``'s, where it was
    found already.

    The ways coded by spatial prediction are planned first (settings chosen, bits estimated,
    coding/interp/trials.py) and only those within ``margin`` of the smallest are made: on a
    chunk that is its own trial block the estimates are within a few bytes of the streams,
    and making a way (a large chunk's sweep and every stream) costs more than planning it.
    Spatial prediction alone is planned on its first trial sweep, and its search finished only
    where that comes within SEARCH_GAIN of being made (``whole_search``).
    ``settings``: a dict a bound search keeps across its calls on one chunk; each way's
    interpolation settings found at the first bound are kept there and reused at the next
    (they follow the field more than the bound), which spares the trials' search of them."""
    settings = {} if settings is None else settings
    alone = alone_way(chunk, bound, settings.get("alone"), first_sweep=True) if alone is None else alone
    if isinstance(alone[0], Container) and alone[0].kind == Kind.RAW:
        return alone
    ways = []
    half = residual.half_step(bound, chunk.array.dtype, chunk.norm)
    if half > 0 and prediction is not None:
        # Spatial prediction alone estimated under the latents' own bytes is made first: where
        # it is no larger than they are, no way that carries them can be smaller (on a chunk
        # the network has not learned, their planning and the residual coded value by value
        # were most of a floor's search).
        least = min(prediction.least_bytes(kind, model, bound)
                    for kind in (Kind.BOUNDED, Kind.BOUNDED_SPATIAL))
        if (estimate := way_size(alone, model)) is not None and estimate < least:
            if not isinstance(alone[0], Container):  # (planned: its settings kept, as below)
                alone = whole_search(alone)
                if alone[0].settings is not None:
                    settings.setdefault("alone", alone[0].settings)
                alone = made(alone)
            if way_size(alone, model) <= least:
                return alone
        array, finite, fields = chunk.array, chunk.finite, prediction.fields
        section, decoded = _encode_residual(array, finite, prediction.values, bound, half, chunk.norm)
        ways.append((Container(kind=Kind.BOUNDED, bound=bound, section=section, **fields), decoded))
        ways.append((spatial.plan_residual(array, finite, prediction.values, bound, chunk.norm,
                                           settings.get("residual")),
                     lambda section: Container(kind=Kind.BOUNDED_SPATIAL, bound=bound,
                                               section=section, **fields)))
    sized = [_sized(way, model) for way in ways]
    alone_size = way_size(alone, model)
    if not sized or alone_size is None or \
            alone_size <= SEARCH_GAIN * min(size for _, size in sized) * (1 + margin(alone)):
        alone = whole_search(alone)
    sized.insert(0, _sized(alone, model))
    ways, sizes = [way for way, _ in sized], [size for _, size in sized]
    for name, way in zip(("alone", "bounded", "residual"), ways):
        if not isinstance(way[0], Container) and way[0].settings is not None:
            settings.setdefault(name, way[0].settings)
    kept = [made(way) for way, size in zip(ways, sizes) if size <= min(sizes) * (1 + margin(way))]
    return min(kept, key=lambda c: len(c[0].to_bytes(model.hash)))


def alone_way(chunk: Chunk, bound: float, settings: dict | None = None,
              first_sweep: bool = False) -> tuple:
    """Spatial prediction alone, planned: (interp.Planned, its section -> Container); or the
    values themselves, made (a RAW Container, the chunk), where no step keeps a bound this fine
    (5e-324). ``first_sweep``: the settings' search stops after its first sweep (interp.plan),
    and ``whole_search`` finishes it."""
    array, header = chunk.array, chunk.header
    if not spatial.representable(bound, array.dtype, chunk.values):
        fortran = header["fortran_order"]
        raw = {k: v for k, v in header.items() if k != "mask"}
        return (Container(kind=Kind.RAW, section=array.tobytes(order="F" if fortran else "C"),
                          **raw), array.copy())
    return (spatial.plan_spatial(array, chunk.finite, bound, settings, first_sweep),
            lambda section: Container(kind=Kind.SPATIAL, bound=bound, section=section, **header))


def whole_search(way: tuple) -> tuple:
    """The way with its settings' search made whole, where it stopped after the first sweep."""
    if isinstance(way[0], Container) or way[0].rest is None:
        return way
    return way[0].rest(), way[1]


def _sized(way: tuple, model) -> tuple[tuple, float]:
    """(the way, its bytes or estimate); a plan that could not estimate itself made, and
    measured."""
    size = way_size(way, model)
    if size is None:
        way = made(way)
        size = way_size(way, model)
    return way, size


def way_size(way: tuple, model) -> float | None:
    """A way's bytes: a made one's, or a planned one's estimate (its stream's, and the
    container around it); None where the plan could not estimate it."""
    if isinstance(way[0], Container):
        return len(way[0].to_bytes(model.hash))
    planned, container = way
    return None if planned.bits is None else planned.bits / 8 + len(container(b"").to_bytes(model.hash))


def margin(way: tuple) -> float:
    """How far over the smallest a way may be estimated and still be made: a made way costs
    nothing more (any); an estimate from a block of a larger chunk is off by up to 3x on the
    benchmark's fields (review), one from the whole chunk by a few bytes."""
    if isinstance(way[0], Container):
        return math.inf
    return EXTRAPOLATED_MARGIN if way[0].extrapolated else ESTIMATE_MARGIN


def made(way: tuple) -> tuple[Container, np.ndarray]:
    """The way's Container and decoded chunk, made where it was planned."""
    if isinstance(way[0], Container):
        return way
    planned, container = way
    section, decoded = planned.finish()
    return container(section), decoded


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
    half = residual.half_step(c.bound, c.dtype, c.normalisation)
    count = np.count_nonzero(finite)
    symbols, exceptions, exact = residual.decode(c.section, count, c.dtype)
    whole = count == finite.size  # no missing point: no mask to gather and scatter through
    kept = cast(residual.reconstruct(values.reshape(-1) if whole else values[finite], symbols,
                                     half), c.dtype)
    kept[exceptions] = exact
    if whole:
        return kept.reshape(values.shape)
    out = cast(values, c.dtype)
    out[finite] = kept
    return out


def decode_spatial(c: Container, model, finite: np.ndarray) -> np.ndarray:
    return spatial.decode_spatial(c.section, c.shape, c.dtype, finite, c.bound)
