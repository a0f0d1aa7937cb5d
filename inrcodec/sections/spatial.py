"""Spatial prediction for the bounded modes: a field coded by multilevel interpolation
(coding/interp/), from the values themselves (kind SPATIAL) or from the network's residual
(kind BOUNDED_SPATIAL), and the values stored exactly where the bound would still be missed or
a zero would come back as a zero of the other sign (coding/exceptions.py: -0.0 is kept).

SPATIAL section: u8 e | varint n, the interpolation section (n bytes) | exceptions, to the end.
The half step is ``base (1 - 2**-e)`` with ``base`` the bound (``floor(bound) + 1/2`` for
integers, which are rounded): the encoder picks ``e`` so that the final rounding to the dtype,
and float64's own in the reconstruction, fit in the difference. Its reconstruction is elementwise
IEEE arithmetic on stored integers, the same on every machine, so it is checked exactly.
BOUNDED_SPATIAL section: varint n, the interpolation section | exceptions; its half step and
check are the network residual's (coding/residual.py), which allow for another machine's float64
network differing in its last bits.
"""

import dataclasses
import math

import numpy as np

from ..chunk import cast
from ..coding import exceptions, interp, residual
from ..coding.bytes import ContainerError, Reader, varint

MAX_SHRINK = 60
# A network's residual larger than a small trial block is searched in one trial sweep (the
# interpolant, and batch axes where its slices look unlike) with uniform level steps in the
# first axis order: where the network pays, its residual is close to white, and QoZ's finer
# coarse levels and the other order bought a chunk nothing on the benchmark's datasets (a small
# block sweeps every setting at once, and is searched whole). docs/interp-search.md, "the
# network's residual", measures what the rest of the search buys on any residual.
RESIDUAL_SEARCH = {"bound_mode": 0, "reverse": False}


def shrink(bound: float, dtype: np.dtype, values: np.ndarray) -> int:
    """The ``e`` of a SPATIAL section for finite ``values``: the smallest margin that covers
    rounding at the largest value; at least a halving, exceptions take the rest."""
    largest = float(np.abs(values.astype(np.float64)).max())
    margin = 4 * float(np.spacing(largest))  # float64's rounding in prediction + 2 h q
    if dtype.kind == "f":
        info = np.finfo(dtype)
        margin += float(np.spacing(np.asarray(min(largest, float(info.max) / 2), dtype=dtype))) / 2
    ratio = _base(bound, dtype) / margin if margin > 0 else math.inf
    return int(min(MAX_SHRINK, max(1, math.floor(math.log2(ratio)) if ratio < math.inf else MAX_SHRINK)))


def representable(bound: float, dtype: np.dtype, values: np.ndarray) -> bool:
    """Whether a SPATIAL section can keep ``bound`` on ``values``: its half step does not
    vanish in float64 (a bound of a few subnormals cannot be stepped; store the values)."""
    return spatial_half(bound, dtype, shrink(bound, dtype, values)) > 0


def spatial_half(bound: float, dtype: np.dtype, e: int) -> float:
    return _base(bound, dtype) * (1 - 2.0 ** -e)


def _base(bound: float, dtype: np.dtype) -> float:
    return math.floor(bound) + 0.5 if dtype.kind in "iu" else bound


def encode_spatial(array: np.ndarray, finite: np.ndarray, bound: float) -> tuple[bytes, np.ndarray]:
    """(SPATIAL section, the decoded chunk) of a chunk's values within ``bound``."""
    return plan_spatial(array, finite, bound).finish()


def plan_spatial(array: np.ndarray, finite: np.ndarray, bound: float,
                 settings: dict | None = None, first_sweep: bool = False) -> interp.Planned:
    """``encode_spatial`` with its settings chosen (or ``settings``, interp.plan's) and its
    bits estimated, not yet made (``first_sweep``: interp.plan's)."""
    values = array[finite]
    e = shrink(bound, array.dtype, values)
    target = np.where(finite, array, 0).astype(np.float64)
    planned = interp.plan(target, spatial_half(bound, array.dtype, e), ~finite,
                          **(settings or {}), first_sweep=first_sweep)
    return _spatial(planned, array, finite, values, bound, e)


def _spatial(planned: interp.Planned, array: np.ndarray, finite: np.ndarray, values: np.ndarray,
             bound: float, e: int) -> interp.Planned:
    """The interpolation's plan made into a SPATIAL section's (and its rest, where it has one)."""
    def finish() -> tuple[bytes, np.ndarray]:
        section, recon = planned.finish()
        decoded = cast(recon, array.dtype)
        kept = decoded[finite]
        missed = np.flatnonzero(~(np.abs(kept.astype(np.float64) - values.astype(np.float64)) <= bound)
                                | exceptions.zero_sign_lost(values, kept))
        kept[missed] = values[missed]
        decoded[finite] = kept
        return bytes([e]) + _with_exceptions(section, missed, values[missed]), decoded

    rest = planned.rest and (lambda: _spatial(planned.rest(), array, finite, values, bound, e))
    return dataclasses.replace(planned, finish=finish, rest=rest)


def decode_spatial(data: bytes, shape: tuple, dtype: np.dtype, finite: np.ndarray,
                   bound: float) -> np.ndarray:
    reader = Reader(data)
    e = reader.byte()
    if not 1 <= e <= MAX_SHRINK:
        raise ContainerError("corrupted inrcodec chunk: bad half step")
    recon = interp.decode(reader.take(reader.varint()), shape, spatial_half(bound, dtype, e), ~finite)
    return _apply_exceptions(cast(recon, dtype), finite, reader)


def encode_residual(array: np.ndarray, finite: np.ndarray, prediction: np.ndarray, bound: float,
                    norm) -> tuple[bytes, np.ndarray]:
    """(BOUNDED_SPATIAL section, the decoded chunk) of the network's residual within ``bound``."""
    return plan_residual(array, finite, prediction, bound, norm).finish()


def plan_residual(array: np.ndarray, finite: np.ndarray, prediction: np.ndarray, bound: float,
                  norm, settings: dict | None = None) -> interp.Planned:
    """``encode_residual`` with its settings chosen (or ``settings``, interp.plan's) and its
    bits estimated, not yet made."""
    half = residual.half_step(bound, array.dtype, norm)
    values = array[finite]
    target = np.where(finite, array.astype(np.float64) - prediction, 0.0)
    planned = (interp.plan(target, half, ~finite, **settings) if settings
               else search_residual(target, half, ~finite))

    def finish() -> tuple[bytes, np.ndarray]:
        section, recon = planned.finish()
        exact = prediction + recon
        ok = residual.holds(values.astype(np.float64), exact[finite], prediction[finite], bound, norm,
                            lambda v: cast(v, array.dtype))
        missed = np.flatnonzero(~ok)
        decoded = cast(exact, array.dtype)
        kept = decoded[finite]
        kept[missed] = values[missed]
        decoded[finite] = kept
        return _with_exceptions(section, missed, values[missed]), decoded

    return dataclasses.replace(planned, finish=finish)


def search_residual(target: np.ndarray, half: float, missing: np.ndarray | None) -> interp.Planned:
    """interp.plan of a network's residual ``target``: ``RESIDUAL_SEARCH``'s one sweep, or the
    whole search where it is at most a small trial block."""
    fixed = RESIDUAL_SEARCH if target.size > interp.SMALL_TRIAL else {}
    return interp.plan(target, half, missing, **fixed)


def decode_residual(data: bytes, prediction: np.ndarray, dtype: np.dtype, finite: np.ndarray,
                    bound: float, norm) -> np.ndarray:
    half = residual.half_step(bound, dtype, norm)
    reader = Reader(data)
    recon = interp.decode(reader.take(reader.varint()), prediction.shape, half, ~finite)
    recon += prediction  # (the decoder's own array; a sum is the same either way round)
    return _apply_exceptions(cast(recon, dtype), finite, reader)


def _with_exceptions(section: bytes, indices: np.ndarray, values: np.ndarray) -> bytes:
    return varint(len(section)) + section + exceptions.write(indices, values)


def _apply_exceptions(decoded: np.ndarray, finite: np.ndarray, reader: Reader) -> np.ndarray:
    indices, exact = exceptions.read(reader, np.count_nonzero(finite), decoded.dtype)
    if reader.rest():
        raise ContainerError("corrupted inrcodec chunk: trailing bytes after the exceptions")
    if len(indices):
        kept = decoded[finite]
        kept[indices] = exact
        decoded[finite] = kept
    return decoded
