"""Lossless coding of where a chunk is not finite (NaN), as zlib-compressed packed bits: the
masks of format versions 1-5 (version 6 codes them with bilevel.py), and the pointwise relative
mode's masks of zeros and signs among its values (a 1-D sequence, not an image)."""

import zlib

import numpy as np

from .bytes import ContainerError


class MaskError(ContainerError):
    """A NaN mask that does not inflate to exactly the chunk's size."""


def encode_mask(missing: np.ndarray) -> bytes:
    return zlib.compress(np.packbits(missing.ravel()).tobytes(), 9)


def decode_mask(data: bytes, size: int) -> np.ndarray:
    expected = (size + 7) // 8
    inflater = zlib.decompressobj()
    try:
        packed = inflater.decompress(data, expected)  # never inflates past the expected size
    except zlib.error as e:
        raise MaskError(f"corrupted NaN mask: {e}") from e
    if len(packed) != expected or inflater.unconsumed_tail or not inflater.eof:
        raise MaskError("corrupted NaN mask: wrong length")
    return np.unpackbits(np.frombuffer(packed, np.uint8), count=size).astype(bool)
