"""Values stored exactly inside a bounded chunk: where the coded value would miss the bound.

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
