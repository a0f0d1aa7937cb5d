"""What every mode shares: the interface, and the check of a setting's value."""

import numbers
from abc import ABC, abstractmethod

import numpy as np

from ..chunk import Chunk
from ..coding.container import Container


class Mode(ABC):
    """One way of storing a chunk's finite values, and what it promises about them.

    A mode is parsed once from the codec's settings; ``encode`` turns a chunk into a
    ``Container`` of one of the kinds the mode writes, and ``modes.decode`` reads any kind back.
    """

    absolute_bound: float | None = None  # set by modes that promise one (the bench groups by it)
    higher_is_better = False  # whether a larger measure (a PSNR) is a better chunk
    pointwise = False  # whether it promises something of every value (a -0.0 is then kept)
    sized = False  # whether it fills every chunk to a size (a budget): bytes cannot judge a model

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


# The largest absolute bound or RMS target taken: the coders double and add steps in float64,
# which past this overflow (a bound this large keeps any finite value anyway).
MOST_ERROR = float(np.finfo(np.float64).max) / 16


def positive(name: str, value, most: float = np.inf) -> float:
    """``value`` as a float if it is a positive finite number (numpy's scalars too) below
    ``most``, else a ValueError naming the setting."""
    if isinstance(value, bool | np.bool_) or not (isinstance(value, numbers.Real) and 0 < value < np.inf):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    if not value <= most:
        raise ValueError(f"{name} must be at most {most:g}, not {value!r}")
    return float(value)
