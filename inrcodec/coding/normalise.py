"""Per-chunk normalisation to a few exactly reproducible numbers.

A chunk is mapped to ``(x - offset) / scale`` before the network sees it. Both numbers are stored
as small integers so that they cost 2-4 bytes and decode bit for bit on any machine:
``scale = 2 ** (scale_code / 4)`` (a quarter-octave grid around the chunk's standard deviation)
and ``offset = offset_code * scale / 16`` (the chunk mean, to 1/16 of the scale). Training uses
the same rounding, so the network sees the spread of amplitudes it will meet when encoding.
"""

import math
from dataclasses import dataclass

import numpy as np

# 2 ** (i / 4) written out, so decoding never depends on a platform's pow().
_QUARTER_OCTAVES = (1.0, 1.189207115002721, 1.4142135623730951, 1.681792830507429)
OFFSET_STEPS_PER_SCALE = 16


def scale_from_code(code: int) -> float:
    return math.ldexp(_QUARTER_OCTAVES[code % 4], code // 4)


@dataclass(frozen=True)
class Normalisation:
    offset_code: int
    scale_code: int

    @property
    def scale(self) -> float:
        return scale_from_code(self.scale_code)

    @property
    def offset(self) -> float:
        return self.offset_code * self.scale / OFFSET_STEPS_PER_SCALE

    @classmethod
    def fit(cls, values: np.ndarray) -> "Normalisation":
        """Normalisation of the finite ``values`` (at least one, not all equal)."""
        with np.errstate(over="ignore"):  # an overflow is refused just below
            std = float(np.std(values, dtype=np.float64))
            mean = float(np.mean(values, dtype=np.float64))
        if not math.isfinite(std) or not math.isfinite(mean) or abs(mean) > 1e300:
            raise ValueError("values too large for inrcodec (past about 1e154 in magnitude their "
                             "squares overflow float64): rescale the data first")
        # Distinct values can still have a float64 std of 0 (a spread of a few ulps).
        std = max(std, float(np.spacing(abs(mean))), 2.0 ** -1000)
        scale_code = round(4 * math.log2(std))
        scale = scale_from_code(scale_code)
        return cls(round(mean * OFFSET_STEPS_PER_SCALE / scale), scale_code)

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (values.astype(np.float64) - self.offset) / self.scale

    def apply_where(self, chunk: np.ndarray, where: np.ndarray) -> np.ndarray:
        """The chunk normalised (float64) where ``where`` holds, 0 elsewhere (NaNs, padding):
        what the network sees, in training and at encode time alike."""
        return np.where(where, self.apply(np.where(where, chunk, 0)), 0.0)

    def invert(self, normalised: np.ndarray, in_place: bool = False) -> np.ndarray:
        """The values (float64); ``in_place``: in ``normalised`` itself where it is float64
        and the caller's own (the same operations, two passes over memory fewer)."""
        if in_place and normalised.dtype == np.float64 and normalised.flags.writeable:
            normalised *= self.scale
            normalised += self.offset
            return normalised
        return normalised.astype(np.float64) * self.scale + self.offset


def normalised(chunk: np.ndarray) -> tuple[np.ndarray, "Normalisation", np.ndarray]:
    """(the chunk normalised as the codec normalises it, non-finite values at 0, in float64;
    its normalisation; where it is finite). The chunk needs two distinct finite values."""
    finite = np.isfinite(chunk)
    norm = Normalisation.fit(chunk[finite])
    return norm.apply_where(chunk, finite), norm, finite
