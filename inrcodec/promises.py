"""Whether a chunk kept its codec's promise (``codec.mode.promise``), measured on its values as
decoded from the store: the check behind the cluster report's "kept" column.

Each mode promises one thing per chunk, so each chunk gives one number, the measure of that
promise (its PSNR, its largest error, its bits per value), and whether it was kept; a variable
keeps its promise when every chunk does, and its worst chunk's number says by how much.
"""

import math

import numpy as np

from .measure import psnr_db


def measure(mode, original: np.ndarray, decoded: np.ndarray, stored_bytes: int,
            chunk_values: int) -> tuple[float, bool] | None:
    """(the chunk's measure, whether it kept the promise), or None for a mode that promises
    nothing (plain latents, ``min_psnr=None``) or that this module does not know.

    ``original`` and ``decoded`` are the chunk's values (the array's part of it); a chunk at an
    array's edge is encoded padded to ``chunk_values`` values, which is what a budget counts.
    """
    from .modes import Bounded, Budget, Latents, PointwiseRelative

    finite = np.isfinite(original)
    x = original[finite].astype(np.float64)
    y = decoded[finite].astype(np.float64)
    error = np.abs(y - x)
    if isinstance(mode, Latents) and mode.min_psnr is not None:
        rmse = math.sqrt(float(np.mean(error ** 2))) if x.size else 0.0
        value = psnr_db(float(np.ptp(x)) if x.size else 0.0, rmse)
        return value, bool(value >= mode.min_psnr - 1e-9)
    if isinstance(mode, Bounded):
        bound = mode.bound(x) if x.size else math.inf
        worst = float(error.max(initial=0.0))
        if mode.max_error is not None:
            return worst, bool(worst <= bound)
        return (worst / bound if bound > 0 else 0.0 if worst == 0 else math.inf), bool(worst <= bound)
    if isinstance(mode, PointwiseRelative):
        e = mode.pointwise_relative_error
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(x == 0, np.where(y == 0, 0.0, math.inf), error / np.abs(x))
        return float(relative.max(initial=0.0)), bool(np.all(error <= e * np.abs(x)))
    if isinstance(mode, Budget):
        bits = 8 * stored_bytes / max(chunk_values, 1)
        return bits, bool(8 * stored_bytes <= mode.bits_per_value * chunk_values)
    return None


def higher_is_better(mode) -> bool:
    """Whether a larger measure is a better chunk (a PSNR), so the worst chunk is the lowest."""
    from .modes import Latents

    return isinstance(mode, Latents)


def describe(mode, worst: float | None, kept: bool | None) -> str:
    """``"yes, worst chunk 41.2 dB"``, ``"NO, max error 0.13"``, or ``"nothing promised"``."""
    from .modes import Bounded, Budget, Latents, PointwiseRelative

    if kept is None or worst is None:
        return "nothing promised"
    if isinstance(mode, Latents):
        what = f"worst chunk {worst:.2f} dB"
    elif isinstance(mode, Bounded) and mode.max_error is None:
        what = f"max error {worst:.3g} x chunk bound"
    elif isinstance(mode, Bounded):
        what = f"max error {worst:.4g}"
    elif isinstance(mode, PointwiseRelative):
        what = f"max error {worst:.3g} x |value|"
    elif isinstance(mode, Budget):
        what = f"max chunk {worst:.3f} bits/value"
    else:
        what = f"worst {worst:.4g}"
    return f"{'yes' if kept else 'NO'}, {what}"
