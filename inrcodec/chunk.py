"""The chunk as modes and sections see it, and what they measure on it: its values' errors, a
floor's margin, and the final cast to the chunk's dtype."""

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .coding import kernels
from .coding.normalise import Normalisation
from .measure import psnr_db, square_shift
from .patches import to_patches


@dataclass
class Chunk:
    """A validated chunk with at least two distinct finite values, ready for any mode."""

    array: np.ndarray
    finite: np.ndarray  # bool, the chunk's shape: the values that are stored
    header: dict  # the Container fields of every kind: dtype, shape, order, NaN mask

    @cached_property
    def values(self) -> np.ndarray:
        return self.array[self.finite]

    @cached_property
    def exact_values(self) -> np.ndarray:
        """``values`` in float64 (a floor's search measures every trial against them)."""
        return self.values.astype(np.float64)

    @cached_property
    def whole(self) -> bool:
        """Whether every value is finite (nothing to gather through the mask)."""
        return self.values.size == self.array.size

    @cached_property
    def value_range(self) -> float:
        """max - min over the chunk's values, an integer chunk's zeros included: they are
        values, stored exactly in the mask (a brain scan's background), as a PSNR counts them."""
        high, low = float(self.values.max()), float(self.values.min())
        if self.array.dtype.kind in "iu" and self.values.size < self.array.size:
            high, low = max(high, 0.0), min(low, 0.0)
        return high - low

    @cached_property
    def norm(self) -> Normalisation:
        return Normalisation.fit(self.values)

    def patch_arrays(self, patch_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(normalised values, weights) cut into patches, float64: padding and NaNs weigh
        nothing."""
        return (to_patches(self.norm.apply_where(self.array, self.finite), patch_shape),
                to_patches(self.finite.astype(np.float64), patch_shape))

    def patches(self, patch_shape: tuple[int, ...]) -> tuple:
        """``patch_arrays`` as float32 torch tensors. (torch is imported here: reading a chunk
        never needs it.)"""
        import torch

        return tuple(torch.from_numpy(a.astype(np.float32)) for a in self.patch_arrays(patch_shape))


def errors(original: np.ndarray, decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the original's finite values, their absolute errors), in float64."""
    finite = np.isfinite(original)
    x = original[finite].astype(np.float64)
    return x, np.abs(decoded[finite].astype(np.float64) - x)


def excess_db(chunk: Chunk, decoded: np.ndarray, target_rms: float) -> float:
    """How far a decoded chunk's RMS error over its values is inside ``target_rms``, in dB
    (negative: past it; infinite: exact). A floor is kept where it is 0 or more. An integer
    chunk's zeros are values, exact (in the mask): they count, as the report's check counts
    them (a floor measured over the rest took a brain slice 6.6 dB past a 25 dB floor, at
    1.8 times SPERR's bits)."""
    values = chunk.exact_values
    count = chunk.array.size if chunk.array.dtype.kind in "iu" else values.size
    kept = decoded.reshape(-1) if chunk.whole else decoded[chunk.finite]  # (the same order)
    difference = np.subtract(kept, values, dtype=np.float64)  # one temporary, squared in place
    if shift := square_shift(target_rms):  # errors about the target: their squares kept finite
        np.ldexp(difference, shift, out=difference)
        target_rms = math.ldexp(target_rms, shift)
    squared = float(np.sum(np.multiply(difference, difference, out=difference)))
    return psnr_db(target_rms, float(np.sqrt(squared / max(count, 1))))


def cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values in ``dtype``: integers rounded and clipped to their range, floats kept finite."""
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    if dtype.kind in "iu":
        values = np.rint(values)
    elif (cast := kernels.clip_cast(values, float(info.min), float(info.max), dtype)) is not None:
        return cast
    return np.clip(values, info.min, info.max).astype(dtype)
