"""What a classic error-bounded codec would have stored a chunk in, at no worse a quality than
inrcodec kept: the report's check that the network was worth it.

The classic codec is inrcodec's own SZ3-style interpolation coder (coding/interp/, the SPATIAL
kind: docs/interp.md measures it against SZ3), so the check needs nothing installed and is what
``--max-error`` falls back to wherever the network does not pay. Its bound is the smaller of the
chunk's max error and sqrt(3) x its RMSE (a uniform quantizer within +-b has an RMS error of
b / sqrt(3), and the coder's finer coarse levels make it smaller still): at no larger a max
error, and about the same RMSE, which the report checks rather than assumes.
"""

import math

import numpy as np

from . import core
from .coding.container import Container, Kind
from .modes import Mode
from .sections import spatial


class Interpolation(Mode):
    """Every chunk by spatial prediction alone, within ``bound``: not a codec setting, the
    report's yardstick."""

    pointwise = True

    def __init__(self, bound: float):
        self.bound = bound

    def settings(self) -> dict:
        return {"max_error": self.bound}

    promise = "every finite value within the bound, by spatial prediction alone"
    label = "classic"

    def encode(self, chunk, model, inner_steps: int) -> Container:
        section, _ = spatial.encode_spatial(chunk.array, chunk.finite, self.bound)
        return Container(kind=Kind.SPATIAL, bound=self.bound, section=section, **chunk.header)


def compare(values: np.ndarray, max_abs_error: float, rmse: float, model) -> dict | None:
    """The classic codec on one chunk: its bytes, squared error and max error over the finite
    values, or None where inrcodec was lossless (nothing to compare)."""
    bound = min(max_abs_error, math.sqrt(3) * rmse)
    finite = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    if not (bound > 0 and finite.any() and spatial.representable(bound, values.dtype, values[finite])):
        return None
    data = core.encode(values, model, Interpolation(bound), 0)
    decoded = core.decode(data, model.hash, lambda: model)
    error = decoded[finite].astype(np.float64) - values[finite].astype(np.float64)
    return {"bytes": len(data), "squared_error": float((error ** 2).sum()),
            "max_abs_error": float(np.abs(error).max(initial=0.0))}
