"""inrcodec as a ClimateBenchPress compressor.

ClimateBenchPress (https://github.com/ClimateBenchPress/compressor) admits a compressor as a
subclass of ``climatebenchpress.compressor.compressors.abc.Compressor`` with a unique ``name``,
a ``description`` and one or both of two static methods, each returning a numcodecs codec:

- ``abs_bound_codec(error_bound, *, dtype, data_min, data_max, data_abs_min, data_abs_max,
  data_min_2d, data_max_2d)``: every value within ``error_bound`` of the original
  (their ``ErrorBound("abs_error", eb)`` test: ``|x - y| <= eb``);
- ``rel_bound_codec(error_bound, ...)`` with the same keywords: the pointwise relative bound
  ``|x - y| <= eb * |x|`` (their ``ErrorBound("rel_error", eb)`` test), so zeros stay zeros.

Both tests also require NaNs and infinities where the original had them. inrcodec meets them with
``INRCodec(max_error=eb)`` and ``INRCodec(pointwise_relative_error=eb)``; the data statistics
ClimateBenchPress passes as keywords are not needed (each chunk is measured as it is encoded).

To add inrcodec to a ClimateBenchPress checkout (Python 3.12, zarr 2.18):

1. ``pip install inrcodec`` into its environment (the codec registers itself with numcodecs
   as ``"inrcodec"``, so its stores decode wherever inrcodec is installed);
2. copy the class below into ``src/climatebenchpress/compressor/compressors/inrcodec.py``, with
   its base class imported as the others do: ``from .abc import Compressor``;
3. import it in ``compressors/__init__.py`` (``from .inrcodec import InrCodec``) and add
   ``"InrCodec"`` to ``__all__``: subclassing registers it under its ``name`` (``"inrcodec"``),
   which is how the benchmark's scripts pick compressors.

Run here, this file subclasses a stand-in with the same contract, so it runs without
ClimateBenchPress (``tests/test_climatebenchpress.py`` checks it against their error-bound test).
"""
from __future__ import annotations

import numpy as np

from inrcodec import INRCodec

try:  # inside ClimateBenchPress
    from climatebenchpress.compressor.compressors.abc import Compressor
except ImportError:  # standalone: the same contract, without the registry
    class Compressor:  # type: ignore[no-redef]
        """Stand-in for ClimateBenchPress' ``Compressor`` (its abstract methods' signatures)."""

        name: str
        description: str


class InrCodec(Compressor):
    """inrcodec: a meta-learned neural field per chunk, with its error-bounded modes."""

    name = "inrcodec"
    description = "inrcodec"

    @staticmethod
    def abs_bound_codec(
        error_bound: float,
        *,
        dtype: None | np.dtype = None,
        data_min: None | float = None,
        data_max: None | float = None,
        data_abs_min: None | float = None,
        data_abs_max: None | float = None,
        data_min_2d: None | np.ndarray = None,
        data_max_2d: None | np.ndarray = None,
    ) -> INRCodec:
        """A codec keeping every value within ``error_bound`` of the original: ``|x - y| <= eb``."""
        return INRCodec(max_error=float(error_bound))

    @staticmethod
    def rel_bound_codec(
        error_bound: float,
        *,
        dtype: None | np.dtype = None,
        data_min: None | float = None,
        data_max: None | float = None,
        data_abs_min: None | float = None,
        data_abs_max: None | float = None,
        data_min_2d: None | np.ndarray = None,
        data_max_2d: None | np.ndarray = None,
    ) -> INRCodec:
        """A codec with the pointwise relative bound ``|x - y| <= eb * |x|`` (zeros kept exact)."""
        return INRCodec(pointwise_relative_error=float(error_bound))


def error_bound_check(x: np.ndarray, y: np.ndarray, error_type: str, threshold: float) -> tuple[bool, float]:
    """ClimateBenchPress' ``ErrorBound`` test on numpy arrays: (passed, fraction of values failing)."""
    with np.errstate(invalid="ignore"):
        if error_type == "abs_error":
            satisfied = np.abs(x - y) <= threshold
        else:
            satisfied = np.abs(x - y) <= np.abs(x) * threshold
    satisfied |= np.isnan(x) & np.isnan(y)
    satisfied |= np.isinf(x) & np.isinf(y) & (x == y)
    exceed = np.sum(~satisfied) / x.size
    return bool(exceed == 0.0), float(exceed)


if __name__ == "__main__":
    from inrcodec.sample_data import load_a1b

    x = np.asarray(load_a1b()[200:204], dtype=np.float32)
    for kind, make, bounds in (("abs_error", InrCodec.abs_bound_codec, (0.1, 0.5)),
                               ("rel_error", InrCodec.rel_bound_codec, (1e-4, 1e-3))):
        for eb in bounds:
            codec = make(eb, dtype=x.dtype, data_min=float(x.min()), data_max=float(x.max()))
            encoded = codec.encode(x)
            y = np.asarray(codec.decode(encoded)).reshape(x.shape)
            passed, exceed = error_bound_check(x, y, kind, eb)
            print(f"{kind}={eb:g}: {codec.mode.label}, {8 * len(encoded) / x.size:.3f} bits/value, "
                  f"error-bound test {'passed' if passed else f'FAILED ({exceed:.2%} over)'}")
