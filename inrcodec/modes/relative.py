"""A pointwise relative bound: ``|x - y| <= bound * |x|`` for every finite value, so zeros stay
exactly zero and small values keep as many digits as large ones (ClimateBenchPress' and
compression-safeguards' relative bound; not ``relative_error``, which is a fraction of a chunk's
range). Its chunks are kind RELATIVE (sections/relative.py); no network.
"""

import math

import numpy as np

from ..chunk import Chunk, errors
from ..coding.container import Container, Kind
from ..sections.relative import encode
from .base import Mode, positive


class PointwiseRelative(Mode):
    """Every finite value within ``pointwise_relative_error`` x its own magnitude."""

    pointwise = True

    def __init__(self, pointwise_relative_error: float):
        self.pointwise_relative_error = positive("pointwise_relative_error", pointwise_relative_error)
        if not math.log2(1 + self.pointwise_relative_error) > 0:  # finer than float64 can step
            raise ValueError(f"pointwise_relative_error {pointwise_relative_error!r} is below float64's "
                             "resolution (2**-52): store the values losslessly instead")
        if not self.pointwise_relative_error < 1:
            raise ValueError("pointwise_relative_error must be below 1 (1 would allow any sign)")

    def settings(self) -> dict:
        return {"pointwise_relative_error": self.pointwise_relative_error}

    @property
    def promise(self) -> str:
        return (f"every finite value within {self.pointwise_relative_error:g} x its own "
                "magnitude; zeros exactly zero")

    @property
    def label(self) -> str:
        return f"+-{self.pointwise_relative_error:g} x|v|"

    def measure(self, original, decoded, stored_bytes, chunk_values):
        x, error = errors(original, decoded)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(x == 0, np.where(error == 0, 0.0, math.inf), error / np.abs(x))
        return (float(relative.max(initial=0.0)),
                bool(np.all(error <= self.pointwise_relative_error * np.abs(x))))

    def describe(self, worst: float) -> str:
        return f"max error {worst:.3g} x |value|"

    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        bound = self.pointwise_relative_error
        return Container(kind=Kind.RELATIVE, bound=bound,
                         section=encode(chunk.array, chunk.finite, bound)[0], **chunk.header)
