"""How a chunk's values are stored: one class a mode, each encoding its own kinds of chunk and
stating its promise (after CompressAI's ``latent_codecs``). ``from_settings`` parses a codec's
settings into a mode once; a chunk of any kind is read back by the decoder the kinds table
names (coding/kinds.py), without a mode. The pieces modes share (the network's latents,
spatial prediction, the wavelet floor, the bounded search) are in sections/.

A new mode is one new class (and, if it writes a new kind of chunk, that kind's row in
coding/kinds.py and its decoder in sections/).
"""

from ..chunk import Chunk
from .base import Mode
from .bounded import Bounded
from .latents import Latents
from .relative import PointwiseRelative

__all__ = ["Bounded", "Budget", "BudgetError", "BudgetWarning", "Chunk", "Latents", "Mode",
           "PointwiseRelative", "PROMISES", "from_settings"]

# The settings that replace the default PSNR floor with another promise; at most one is given.
BOUND_SETTINGS = ("max_error", "relative_error", "pointwise_relative_error", "bits_per_value",
                  "max_rmse")
PROMISES = (*BOUND_SETTINGS, "min_psnr")  # every setting that says what a chunk keeps


def __getattr__(name: str):
    """The size-budget mode's names, imported when asked for: it needs torch and cooper, which
    a reader of chunks never does."""
    if name in ("Budget", "BudgetError", "BudgetWarning"):
        from . import budget

        return getattr(budget, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def from_settings(latent_bits: float = 6.5, max_error: float | None = None,
                  relative_error: float | None = None, bits_per_value: float | None = None,
                  pointwise_relative_error: float | None = None,
                  min_psnr: float | None = None, max_rmse: float | None = None) -> Mode:
    """The mode that a codec's settings select (the codec holds their defaults)."""
    given = {name: value for name, value in [("max_error", max_error),
                                             ("relative_error", relative_error),
                                             ("pointwise_relative_error", pointwise_relative_error),
                                             ("bits_per_value", bits_per_value),
                                             ("max_rmse", max_rmse)]
             if value is not None}
    if len(given) > 1:
        raise ValueError(f"give one of {', '.join(BOUND_SETTINGS)}, not {' and '.join(given)}")
    from ..codecs.numcodecs import DEFAULT_MIN_PSNR

    if given and min_psnr not in (None, DEFAULT_MIN_PSNR):  # (the default: no promise asked)
        raise ValueError(f"min_psnr={min_psnr:g} and {next(iter(given))} are two promises: give "
                         "one (a bound's chunks keep the bound, not a PSNR floor)")
    if bits_per_value is not None:
        from .budget import Budget

        return Budget(bits_per_value)
    if pointwise_relative_error is not None:
        return PointwiseRelative(pointwise_relative_error)
    if max_rmse is not None:  # an RMS floor in place of the codec's PSNR floor
        return Latents(latent_bits, max_rmse=max_rmse)
    if given:
        return Bounded(latent_bits, max_error=max_error, relative_error=relative_error)
    return Latents(latent_bits, min_psnr)


