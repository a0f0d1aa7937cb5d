"""What every mode shares: the chunk as a mode sees it, the interface, and the final cast."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from ..coding.container import Container
from ..coding.normalise import Normalisation
from ..measure import psnr_db
from ..patches import to_patches


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
    def norm(self) -> Normalisation:
        return Normalisation.fit(self.values)

    def patches(self, patch_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised values, weights) cut into patches: padding and NaNs weigh nothing."""
        normalised = self.norm.apply_where(self.array, self.finite).astype(np.float32)
        return (torch.from_numpy(to_patches(normalised, patch_shape)),
                torch.from_numpy(to_patches(self.finite.astype(np.float32), patch_shape)))


class Mode(ABC):
    """One way of storing a chunk's finite values, and what it promises about them.

    A mode is parsed once from the codec's settings; ``encode`` turns a chunk into a
    ``Container`` of one of the kinds the mode writes, and ``modes.decode`` reads any kind back.
    """

    absolute_bound: float | None = None  # set by modes that promise one (the bench groups by it)
    higher_is_better = False  # whether a larger measure (a PSNR) is a better chunk

    @abstractmethod
    def settings(self) -> dict:
        """The codec settings that select this mode, as its config records them."""

    @property
    @abstractmethod
    def promise(self) -> str:
        """What every chunk written in this mode keeps, in words."""

    @property
    @abstractmethod
    def label(self) -> str:
        """The promise in a few characters, for tables."""

    @abstractmethod
    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        ...

    def measure(self, original: np.ndarray, decoded: np.ndarray, stored_bytes: int,
                chunk_values: int) -> tuple[float, bool] | None:
        """A chunk against the promise, on its values as decoded from a store: (the promise's
        measure, whether it was kept), or None where nothing is promised. ``chunk_values`` is the
        chunk's size as encoded (padded at an array's edge), which a budget counts."""
        return None

    def describe(self, worst: float) -> str:
        """The worst chunk's measure, in words."""
        return f"worst {worst:.4g}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.settings().items())})"


def errors(original: np.ndarray, decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the original's finite values, their absolute errors), in float64."""
    finite = np.isfinite(original)
    x = original[finite].astype(np.float64)
    return x, np.abs(decoded[finite].astype(np.float64) - x)


def excess_db(chunk: Chunk, decoded: np.ndarray, target_rms: float) -> float:
    """How far a decoded chunk's RMS error over its stored values is inside ``target_rms``, in
    dB (negative: past it; infinite: exact). A floor is kept where it is 0 or more."""
    values = chunk.values.astype(np.float64)
    rmse = float(np.sqrt(np.mean((decoded[chunk.finite].astype(np.float64) - values) ** 2)))
    return psnr_db(target_rms, rmse)


def cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values in ``dtype``: integers rounded and clipped to their range, floats kept finite."""
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    if dtype.kind in "iu":
        values = np.rint(values)
    return np.clip(values, info.min, info.max).astype(dtype)


def positive(name: str, value) -> float:
    """``value`` if it is a positive finite number, else a ValueError naming the setting."""
    if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value < np.inf):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return value
