"""Values stored exactly inside a bounded chunk: where the coded value would miss the bound, or
where a zero would come back as a zero of the other sign (``zero_sign_lost``).

Layout: varint count | count varints, the gaps between successive indices (the first from 0) |
the values, raw, in the chunk's dtype.
"""

import numpy as np

from .bytes import ContainerError, Reader, varint


def write(indices: np.ndarray, values: np.ndarray) -> bytes:
    out = bytearray(varint(len(indices)))
    for gap in np.diff(indices, prepend=0):
        out += varint(int(gap))
    return bytes(out + values.tobytes())


def read(reader: Reader, count: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(indices, values) of exceptions among ``count`` values."""
    n = reader.varint()
    if n > count:
        raise ContainerError("corrupted inrcodec chunk: more exceptions than values")
    indices = np.cumsum([reader.varint() for _ in range(n)], dtype=np.int64)
    if n and (indices[-1] >= count or (np.diff(indices) <= 0).any()):
        raise ContainerError("corrupted inrcodec chunk: exception outside the chunk")
    return indices, np.frombuffer(reader.take(n * dtype.itemsize), dtype=dtype)


def zero_sign_lost(values: np.ndarray, low: np.ndarray, high: np.ndarray | None = None) -> np.ndarray:
    """Where a zero among ``values`` would come back as a zero of the other sign, given its decoded
    value (``low`` alone, where the decoder is exact) or the range [low, high] of the values other
    machines may decode: a -0.0 where +0.0 lies in that range, a +0.0 where -0.0 may.
    The bounded kinds store those zeros exactly (a -0.0 costs its value and its index); a zero
    decoded as a non-zero value keeps only the bound's promise, so a chunk without -0.0 is stored
    as before unless a +0.0 of it would decode as -0.0 (float16 rounding a tiny negative)."""
    lost = np.zeros(values.shape, bool)
    zero = values == 0
    if not zero.any():
        return lost
    lo = low[zero]
    hi = lo if high is None else high[zero]
    plus = (lo <= 0) & ~np.signbit(hi)
    minus = np.signbit(lo) & (hi >= 0)  # a decode in [lo, hi] may round to -0.0
    lost[zero] = np.where(np.signbit(values[zero]), plus, minus)
    return lost
