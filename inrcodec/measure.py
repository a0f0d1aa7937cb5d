"""How the project measures a codec: PSNR, the errors, and a round trip of chunks through it.

PSNR is taken over the range of the original's finite values (``20 log10(range / RMSE)``), the
convention of the climate-compression literature; errors are measured in float64 on the values
the original has (NaNs excluded, and checked separately). Bits per value count every stored
byte over every value of the chunks, NaNs included.
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def psnr_db(value_range: float, rmse: float) -> float:
    """``20 log10(value_range / rmse)``; infinite for an exact reconstruction."""
    return float(20 * np.log10(value_range / rmse)) if rmse > 0 else math.inf


# Squares of float64 errors under about 2**-511 underflow, over 2**512 overflow: errors past
# these magnitudes are scaled by a power of two first (exact: elsewhere the same numbers). A
# field of values under 1e-157 had kept a 40 dB floor at -16 dB, its errors' squares 0.
SQUARE_SAFE = 2.0 ** 400


def square_shift(magnitude: float) -> int:
    """The power of two that brings errors about ``magnitude`` where their squares neither
    underflow nor overflow; 0 where they already do neither (and for 0, inf or NaN)."""
    if not 0 < magnitude < math.inf or 1 / SQUARE_SAFE < magnitude < SQUARE_SAFE:
        return 0
    return -math.frexp(magnitude)[1]


def rms(error: np.ndarray) -> float:
    """``sqrt(mean(error ** 2))`` of float64 ``error`` (0 for none), its squares kept from
    underflowing or overflowing (``square_shift``): inf or NaN where an error is."""
    if not error.size:
        return 0.0
    shift = square_shift(float(np.max(np.abs(error))))
    scaled = np.ldexp(error, shift) if shift else error
    return math.ldexp(float(np.sqrt(np.mean(scaled ** 2))), -shift)


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR over the range of the original's finite values, errors in float64."""
    finite = np.isfinite(original)
    x = original[finite].astype(np.float64)
    return psnr_db(np.ptp(x), rms(x - decoded[finite].astype(np.float64)))


def distortion(original: np.ndarray, decoded: np.ndarray) -> dict:
    """RMSE, PSNR and max abs error over the original's finite values; whether NaNs came back
    exactly where they were (None when the original has none)."""
    finite = np.isfinite(original)
    x, y = original[finite].astype(np.float64), decoded[finite].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(y - x)
    max_error = float(error.max()) if np.isfinite(error).all() else float("inf")
    rmse = rms(error) if np.isfinite(max_error) else float("inf")
    nans = None if finite.all() else bool(np.array_equal(np.isnan(original), np.isnan(decoded)))
    return {"rmse": rmse, "psnr_db": psnr(original, decoded) if np.isfinite(rmse) else float("nan"),
            "max_abs_error": max_error, "nans_preserved": nans}


Encode = Callable[[np.ndarray], bytes]
Decode = Callable[[bytes, tuple, np.dtype], np.ndarray]  # from the bytes, shape and dtype alone


@dataclass
class RoundTrip:
    """Chunks encoded one after another, then decoded from their bytes."""
    chunks: list[np.ndarray]
    encoded: list[bytes]
    decoded: list[np.ndarray]
    encode_seconds: float
    decode_seconds: float

    @property
    def stored_bytes(self) -> int:
        return sum(map(len, self.encoded))

    @property
    def values(self) -> int:
        return sum(c.size for c in self.chunks)

    @property
    def bits_per_value(self) -> float:
        return 8 * self.stored_bytes / self.values

    @property
    def original(self) -> np.ndarray:
        """Every chunk's values, one after another."""
        return np.concatenate([c.ravel() for c in self.chunks])

    @property
    def reconstruction(self) -> np.ndarray:
        """Every decoded chunk's values, in the order of ``original``."""
        return np.concatenate([d.ravel() for d in self.decoded])

    def psnr(self) -> float:
        return psnr(self.original, self.reconstruction)

    def distortion(self) -> dict:
        return distortion(self.original, self.reconstruction)


def round_trip(chunks: Sequence[np.ndarray], encode: Encode, decode: Decode,
               encode_seconds: float = math.inf) -> RoundTrip:
    """Every chunk through ``encode``, then ``decode``, timed apart. Raises TimeoutError when
    encoding takes longer than ``encode_seconds``."""
    chunks = list(chunks)
    start = time.perf_counter()
    encoded = []
    for c in chunks:
        encoded.append(encode(c))
        if time.perf_counter() - start > encode_seconds and len(encoded) < len(chunks):
            raise TimeoutError(f"took over {encode_seconds:.0f} s to encode "
                               f"{len(encoded)} of {len(chunks)} chunks")
    encoded_at = time.perf_counter()
    decoded = [decode(e, c.shape, c.dtype) for e, c in zip(encoded, chunks)]
    return RoundTrip(chunks, encoded, decoded, encoded_at - start,
                     time.perf_counter() - encoded_at)


def codec_round_trip(codec, chunks: Sequence[np.ndarray]) -> RoundTrip:
    """``round_trip`` through a numcodecs codec (which knows its chunks' shape and dtype)."""
    return round_trip(chunks, codec.encode,
                      lambda data, shape, dtype: np.asarray(codec.decode(data)).reshape(shape))


def chunks_along_first_axis(array: np.ndarray, length: int) -> list[np.ndarray]:
    """``array`` cut into chunks of ``length`` along its first axis (the last may be shorter)."""
    return [array[i:i + length] for i in range(0, len(array), length)]
