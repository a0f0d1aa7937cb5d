"""Error-bounded coding: the network predicts, the residual is quantized and range-coded.

A finite value ``v`` with prediction ``p`` is stored as ``q = rint((v - p) / (2 h))`` and decoded
as ``p + 2 h q``, where the half step ``h`` sits a little inside the bound ``X``. The slack covers
what may differ when another machine decodes: the float64 prediction in its last bits, and the
final rounding to the array's dtype (to the nearest float, or to the nearest integer, for which
``h = floor(X) + 1/2 - slack`` so that the rounding lands within ``floor(X)``). The encoder checks
every value with the decoder's own arithmetic; a value that would miss the bound, or whose
``|q|`` exceeds ``MAX_SYMBOL``, is stored exactly instead (an "exception").

Section layout: svarint scale code | varint K (largest |q|) | varint exception count |
varint index deltas | exception values (raw, in the chunk's dtype) | range-coded q, to the end.
"""

import math

import constriction
import numpy as np

from .container import ContainerError, Reader, svarint, varint
from .entropy import logistic_cdf
from .normalise import scale_from_code

MAX_SYMBOL = 2 ** 15
PREDICTION_TOLERANCE = 1e-9  # of |offset| + scale: far above float64 differences between machines


def half_step(max_error: float, dtype: np.dtype, magnitude: float) -> float:
    """The quantizer's half step for a bound ``max_error`` on values of up to ``magnitude``."""
    slack = max_error * 2.0 ** -16 + PREDICTION_TOLERANCE * magnitude
    if dtype.kind in "iu":
        return math.floor(max_error) + 0.5 - slack
    largest = float(np.finfo(dtype).max)
    return max_error - slack - float(np.spacing(np.asarray(min(magnitude, largest), dtype=dtype)))


def reconstruct(prediction: np.ndarray, symbols: np.ndarray, half: float) -> np.ndarray:
    """Decoded values (float64) from the prediction and the quantized residuals."""
    return prediction + symbols * (2.0 * half)


def quantize(values: np.ndarray, prediction: np.ndarray, half: float, max_error: float,
             magnitude: float, dtype: np.dtype, cast) -> tuple[np.ndarray, np.ndarray]:
    """(symbols, exception indices) for float64 ``values`` and ``prediction`` of equal shape.

    ``cast`` is the decoder's final conversion to ``dtype``. A value passes if it decodes within
    the bound here and would on a machine whose prediction differs by the tolerance: such a
    difference moves a float result by at most one step of its dtype, and an integer result not
    at all unless it lies that close to a rounding boundary.
    """
    symbols = np.rint((values - prediction) / (2.0 * half))
    exact = reconstruct(prediction, symbols, half)
    decoded = cast(exact)
    error = np.abs(decoded.astype(np.float64) - values)
    tolerance = PREDICTION_TOLERANCE * magnitude
    if dtype.kind in "iu":
        ok = (error <= max_error) & (np.abs(np.abs(exact - np.floor(exact)) - 0.5) > tolerance)
    else:
        ok = error + np.abs(np.spacing(decoded)).astype(np.float64) + tolerance <= max_error
    ok &= np.abs(symbols) <= MAX_SYMBOL
    exceptions = np.flatnonzero(~ok)
    symbols[exceptions] = 0
    return symbols.astype(np.int64), exceptions


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
    exceptions = np.cumsum([reader.varint() for _ in range(n)], dtype=np.int64)
    if n and exceptions[-1] >= count:
        raise ContainerError("corrupted inrcodec chunk: exception outside the chunk")
    exact = np.frombuffer(reader.take(n * dtype.itemsize), dtype=dtype)
    symbols = np.zeros(count, np.int64)
    if k:
        rest = reader.rest()
        words = np.frombuffer(rest + b"\0" * (-len(rest) % 4), "<u4").astype(np.uint32)
        decoder = constriction.stream.queue.RangeDecoder(words)
        symbols = decoder.decode(_model(scale_code, k), count).astype(np.int64) - k
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

    def bits(code: int) -> float:
        p = _probabilities(code, k)
        return float(-(counts[used] * np.log2(p[used] / p.sum())).sum())

    return min(range(max(-40, around - 16), min(80, around + 5)), key=bits)


def _probabilities(scale_code: int, k: int) -> np.ndarray:
    """Logistic probabilities of the symbols -k..k with rms ``2 ** (scale_code / 4)``."""
    s = scale_from_code(scale_code) * math.sqrt(3.0) / math.pi
    edges = logistic_cdf((np.arange(-k, k, dtype=np.float64) + 0.5) / s)
    return np.maximum(np.diff(np.concatenate([[0.0], edges, [1.0]])), 1e-300)


def _model(scale_code: int, k: int):
    # constriction normalises the table itself and gives every symbol a non-zero probability.
    return constriction.stream.model.Categorical(_probabilities(scale_code, k).astype(np.float32),
                                                 perfect=False)
