"""Error-bounded coding: the network predicts, the residual is quantized and range-coded.

A finite value ``v`` with prediction ``p`` is stored as ``q = rint((v - p) / (2 h))`` and decoded
as ``p + 2 h q``, where the half step ``h`` sits a little inside the bound ``X``: inside by the
final rounding to the array's dtype (to the nearest float, or to the nearest integer, for which
``h = floor(X) + 1/2 - slack`` so that the rounding lands within ``floor(X)``) and by what may
differ when another machine decodes (``tolerance``: its float64 prediction, in the last bits).
The encoder checks every value with the decoder's own arithmetic, moved by that tolerance either
way; a value that would miss the bound, a zero that could come back as a zero of the other sign
(a -0.0 as +0.0: coding/exceptions.py), or a value whose ``|q|`` exceeds ``MAX_SYMBOL``, is stored
exactly instead (an "exception").

Section layout: svarint scale code | varint K (largest |q|) | varint exception count |
varint index deltas | exception values (raw, in the chunk's dtype) | range-coded q, to the end.
"""

import math
from functools import lru_cache

import constriction
import numpy as np

from .bytes import ContainerError, Reader, svarint, varint
from .entropy import logistic_cdf
from .exceptions import zero_sign_lost
from .normalise import Normalisation, scale_from_code
from .rangecoder import RangeReader, packed_tables

MAX_SYMBOL = 2 ** 15
_NONE = np.zeros(0, np.int64)  # a section's exceptions where it has none (never written)
_NONE.flags.writeable = False
# How far another machine's decoded float64 value may lie from this one's. The network's output
# (in units of the chunk's scale) is within 7e-15 of exact arithmetic on the bundled models and on
# a SIREN of the largest size a model file may have (width 1024, depth 16; against long double),
# so two machines differ by < 1.4e-14: the tolerance is 1000 times that. The three roundings that
# follow (x scale, + offset, + residual) differ by one ulp of their result each; one ulp more
# covers the check's own rounding.
NETWORK_TOLERANCE = 2.0 ** -36  # of the chunk's scale
ROUNDING_ULPS = 4
SPREADS = 16  # the values are taken to lie within 16 scales of the offset (for the step only)
# Chunks written before these tolerances took 1e-9 x (|offset| + 16 scale) of slack, far more
# than machines differ by where the offset is large, and the dtype's spacing at that magnitude
# (infinite at float16's largest value). Wherever that gave a positive step it still does, so
# those chunks decode as they always did.
LEGACY_TOLERANCE = 1e-9


def half_step(max_error: float, dtype: np.dtype, norm: Normalisation) -> float:
    """The quantizer's half step for a bound ``max_error`` on a chunk normalised by ``norm``.

    Not positive (a bound to refuse) only for floats, when the bound is below the dtype's
    resolution at the chunk's smallest values or below the tolerance; an integer bound is always
    honoured, by storing exact values at worst.
    """
    legacy = _legacy_half_step(max_error, dtype, norm)
    if legacy > 0:
        return legacy
    slack = max_error * 2.0 ** -16 + tolerance(norm, abs(norm.offset) + SPREADS * norm.scale)
    if dtype.kind in "iu":  # at worst every value an exception: the step only needs to be > 0
        return math.floor(max_error) + 0.5 - min(slack, 0.25)
    # The finest spacing the chunk's values need: coarser values (a wide float16 spread reaches
    # a spacing of 32) may round past the bound and are then stored exactly.
    smallest = max(abs(norm.offset) - SPREADS * norm.scale, 0.0)
    return max_error - slack - _spacing(smallest, dtype) / 2


def tolerance(norm: Normalisation, size) -> float | np.ndarray:
    """How far another machine's float64 result may lie from this one's, for values whose
    prediction and result are at most ``size`` in magnitude (scalar or array)."""
    size = np.abs(size) + abs(norm.offset)  # bounds every intermediate, |prediction - offset| too
    return NETWORK_TOLERANCE * norm.scale + ROUNDING_ULPS * np.spacing(size)


def _spacing(x: float, dtype: np.dtype) -> float:
    """The dtype's spacing at ``x``, finite even at the dtype's largest value."""
    largest = float(np.nextafter(np.finfo(dtype).max, 0, dtype=dtype))
    return float(np.spacing(np.asarray(min(x, largest), dtype=dtype)))


def _legacy_half_step(max_error: float, dtype: np.dtype, norm: Normalisation) -> float:
    magnitude = abs(norm.offset) + SPREADS * norm.scale
    slack = max_error * 2.0 ** -16 + LEGACY_TOLERANCE * magnitude
    if dtype.kind in "iu":
        return math.floor(max_error) + 0.5 - slack
    largest = _largest(dtype)
    with np.errstate(over="ignore"):  # inf at float16's largest value: no legacy step there
        return max_error - slack - float(np.spacing(np.asarray(min(magnitude, largest), dtype=dtype)))


@lru_cache(maxsize=16)
def _largest(dtype: np.dtype) -> float:
    """The dtype's largest finite value (once per dtype: a reader asks per chunk)."""
    return float(np.finfo(dtype).max)


def reconstruct(prediction: np.ndarray, symbols: np.ndarray, half: float) -> np.ndarray:
    """Decoded values (float64) from the prediction and the quantized residuals."""
    out = symbols * (2.0 * half)
    out += prediction  # (a sum is the same either way round: one array fewer)
    return out


def quantize(values: np.ndarray, prediction: np.ndarray, half: float, max_error: float,
             norm: Normalisation, dtype: np.dtype, cast) -> tuple[np.ndarray, np.ndarray]:
    """(symbols, exception indices) for float64 ``values`` and ``prediction`` of equal shape.

    ``cast`` is the decoder's final conversion to ``dtype``. A value passes if it decodes within
    the bound from anywhere within the tolerance of this machine's result: ``cast`` is monotonic,
    so checking both ends of that interval checks every result in it.
    """
    symbols = np.rint((values - prediction) / (2.0 * half))
    exact = reconstruct(prediction, symbols, half)
    ok = holds(values, exact, prediction, max_error, norm, cast) & (np.abs(symbols) <= MAX_SYMBOL)
    exceptions = np.flatnonzero(~ok)
    symbols[exceptions] = 0
    return symbols.astype(np.int64), exceptions


def holds(values: np.ndarray, exact: np.ndarray, prediction: np.ndarray, max_error: float,
          norm: Normalisation, cast) -> np.ndarray:
    """Where float64 ``exact`` (this machine's decoded value, before ``cast``) decodes within
    ``max_error`` of ``values`` from anywhere within the tolerance of it (see ``quantize``), and
    a zero among ``values`` (float64: a -0.0 keeps its sign) cannot come back as a zero of the
    other sign."""
    margin = tolerance(norm, np.maximum(np.abs(exact), np.abs(prediction)))
    ends = [cast(exact - margin), cast(exact + margin)]
    ok = np.ones(values.shape, bool)
    for end in ends:
        ok &= np.abs(end.astype(np.float64) - values) <= max_error
    return ok & ~zero_sign_lost(values, *ends)


def encode(symbols: np.ndarray, exceptions: np.ndarray, exact: np.ndarray) -> bytes:
    """The section for ``symbols`` (int64), with ``exact`` values at ``exceptions`` indices."""
    k = int(np.abs(symbols).max(initial=0))
    scale_code = _best_scale_code(symbols, k)
    out = bytearray(svarint(scale_code) + varint(k) + varint(len(exceptions)))
    for delta in np.diff(exceptions, prepend=0):
        out += varint(int(delta))
    out += exact.tobytes()
    if k:
        coder = constriction.stream.queue.RangeEncoder()
        coder.encode((symbols + k).astype(np.int32), _model(scale_code, k))
        out += coder.get_compressed().astype("<u4").tobytes().rstrip(b"\0")
    return bytes(out)


def decode(data: bytes, count: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(symbols, exception indices, exact values) from a section holding ``count`` values."""
    reader = Reader(data, 0)
    scale_code, k, n = reader.svarint(), reader.varint(), reader.varint()
    if k > MAX_SYMBOL or n > count:
        raise ContainerError("corrupted inrcodec chunk: impossible residual section")
    exceptions = np.cumsum([reader.varint() for _ in range(n)], dtype=np.int64) if n else _NONE
    if n and exceptions[-1] >= count:
        raise ContainerError("corrupted inrcodec chunk: exception outside the chunk")
    exact = np.frombuffer(reader.take(n * dtype.itemsize), dtype=dtype)
    symbols = np.zeros(count, np.int64)
    if k:
        rest = reader.rest()
        words = np.frombuffer(rest + b"\0" * (-len(rest) % 4), "<u4").astype(np.uint32)
        stream = RangeReader(b"", count, words)
        if stream.compiled:
            cdf, tables = _packed(scale_code, k)
            symbols = stream.symbols(cdf, tables, np.zeros(count, np.int8))
        else:
            symbols = stream.decoder.decode(_model(scale_code, k), count).astype(np.int64) - k
    return symbols, exceptions, exact


def _best_scale_code(symbols: np.ndarray, k: int) -> int:
    """The logistic scale that codes ``symbols`` shortest.

    Residuals are often a mixture (a well predicted background, a harder foreground), which a
    logistic matched to their rms describes badly; trying scales around it costs little.
    """
    if not k:
        return 0
    rms = math.sqrt(float(np.mean(symbols.astype(np.float64) ** 2)))
    around = round(4 * math.log2(max(rms, 0.05)))
    counts = np.bincount(symbols + k, minlength=2 * k + 1)
    used = counts > 0
    codes = range(max(-40, around - 16), min(80, around + 5))
    tables = _probabilities(np.array(codes), k)  # a row per code, in one pass

    def bits(row: int) -> float:
        p = tables[row]
        return float(-(counts[used] * np.log2(p[used] / p.sum())).sum())

    return codes[min(range(len(codes)), key=bits)]


def _probabilities(scale_code, k: int) -> np.ndarray:
    """Logistic probabilities of the symbols -k..k with rms ``2 ** (scale_code / 4)``; for an
    array of codes, a row each (the same numbers, elementwise)."""
    codes = np.atleast_1d(scale_code)
    s = np.array([scale_from_code(int(c)) * math.sqrt(3.0) / math.pi for c in codes])
    edges = logistic_cdf((np.arange(-k, k, dtype=np.float64) + 0.5) / s[:, None])
    ends = np.ones((len(codes), 1))
    p = np.maximum(np.diff(np.concatenate([0.0 * ends, edges, ends], axis=1), axis=1), 1e-300)
    return p if np.ndim(scale_code) else p[0]


@lru_cache(maxsize=16)
def _packed(scale_code: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``_model``'s table for the compiled range reader."""
    return packed_tables([(_probabilities(scale_code, k).astype(np.float32), -k, -1)])


def _model(scale_code: int, k: int):
    # constriction normalises the table itself and gives every symbol a non-zero probability.
    return constriction.stream.model.Categorical(_probabilities(scale_code, k).astype(np.float32),
                                                 perfect=False)
