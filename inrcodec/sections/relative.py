"""The RELATIVE section: a pointwise relative bound ``|x - y| <= bound * |x|`` (modes/relative.py).
It codes ``log2 |x|`` within ``log2(1 + bound)`` by spatial prediction (coding/interp/), and
stores where the zeros and the negative values are; no network.

Section: u8 e (the half step is ``log2(1 + bound) (1 - 2**-e)``) | u8 flags: has zeros (bit 0),
has negatives (bit 1) | if zeros: varint n, the zlib mask of zeros among the finite values | if
negatives: varint n, the mask of negatives among the finite non-zero values | varint n, the
interpolation section | exceptions (coding/exceptions.py), to the end. The mask of zeros decodes
as +0.0, so each -0.0 is also an exception, stored as itself.
"""

import math

import numpy as np

from ..chunk import cast
from ..coding import exceptions, interp
from ..coding.bytes import ContainerError, Reader, varint
from ..coding.container import Container
from ..coding.mask import decode_mask, encode_mask
from .spatial import MAX_SHRINK

ROUNDING_ULPS = 4  # float64 ulps by which another machine's exp2 and products may differ


def _half(bound: float, e: int) -> float:
    return math.log2(1 + bound) * (1 - 2.0 ** -e)


def _shrink(bound: float, dtype: np.dtype) -> int:
    """Room for the final rounding to ``dtype`` (half its relative spacing) and float64's."""
    relative = (float(np.finfo(dtype).eps) / 2 if dtype.kind == "f" else 0.0) + 2.0 ** -44
    return int(min(MAX_SHRINK, max(1, math.floor(math.log2(math.log2(1 + bound) * math.log(2)
                                                            / relative)))))


def _within(decoded_ends, values: np.ndarray, bound: float) -> np.ndarray:
    limit = bound * np.abs(values)
    ok = np.ones(values.shape, bool)
    for end in decoded_ends:
        ok &= np.abs(end.astype(np.float64) - values) <= limit
    return ok


def encode(array: np.ndarray, finite: np.ndarray, bound: float) -> tuple[bytes, np.ndarray]:
    """(section, the decoded chunk)."""
    values = array[finite].astype(np.float64)
    zero, negative = values == 0, values < 0
    e = _shrink(bound, array.dtype)
    coded = finite.copy()
    coded[finite] = ~zero
    logs = np.zeros(array.shape)
    logs[coded] = np.log2(np.abs(values[~zero]))
    section, recon = interp.encode(logs, _half(bound, e), ~coded)
    out = bytearray([e, bool(zero.any()) | bool(negative.any()) << 1])
    for mask in (zero, negative[~zero]):
        if mask.any():
            data = encode_mask(mask)
            out += varint(len(data)) + data
    decoded_ends = [cast(_magnitudes(recon[coded], negative[~zero], side), array.dtype)
                    for side in (-1, 1)]
    kept = np.zeros(len(values), array.dtype)
    nonzero = ~zero
    ok = np.ones(len(values), bool)
    ok[nonzero] = _within(decoded_ends, values[nonzero], bound)
    kept[nonzero] = cast(_magnitudes(recon[coded], negative[~zero], 0), array.dtype)
    ok &= ~exceptions.zero_sign_lost(values, kept)  # a -0.0, decoded from the mask as +0.0
    missed = np.flatnonzero(~ok)
    kept[missed] = array[finite][missed]
    out += varint(len(section)) + section + exceptions.write(missed, array[finite][missed])
    decoded = array.copy()
    decoded[finite] = kept
    return bytes(out), decoded


def _magnitudes(logs: np.ndarray, negative: np.ndarray, side: int) -> np.ndarray:
    """The decoded values, moved by ``side`` times the rounding another machine may differ by."""
    values = np.exp2(logs) * (1 + side * ROUNDING_ULPS * 2.0 ** -52)
    return np.where(negative, -values, values)


def decode(c: Container, model, finite: np.ndarray) -> np.ndarray:
    reader = Reader(c.section)
    e, flags = reader.byte(), reader.byte()
    if not 1 <= e <= MAX_SHRINK or flags >> 2:
        raise ContainerError("corrupted inrcodec chunk: bad relative section")
    count = np.count_nonzero(finite)
    zero = decode_mask(reader.take(reader.varint()), count) if flags & 1 else np.zeros(count, bool)
    nonzero = int((~zero).sum())
    negative = (decode_mask(reader.take(reader.varint()), nonzero) if flags & 2
                else np.zeros(nonzero, bool))
    coded = finite.copy()
    coded[finite] = ~zero
    recon = interp.decode(reader.take(reader.varint()), c.shape, _half(c.bound, e), ~coded)
    kept = np.zeros(count, c.dtype)
    kept[~zero] = cast(_magnitudes(recon[coded], negative, 0), c.dtype)
    indices, exact = exceptions.read(reader, count, c.dtype)
    if reader.rest():
        raise ContainerError("corrupted inrcodec chunk: trailing bytes after the exceptions")
    kept[indices] = exact
    out = np.zeros(c.shape, c.dtype)
    out[finite] = kept
    return out
