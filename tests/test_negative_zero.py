"""-0.0 is kept where the mode promises a bound on every value (issue #32): the bounded kinds store
exactly, as an exception, any zero that would come back as a zero of the other sign."""

import numpy as np
import pytest

from helpers import smooth_field
from inrcodec import INRCodec
from inrcodec.chunk import cast
from inrcodec.coding import residual
from inrcodec.coding.normalise import Normalisation
from inrcodec.sections import spatial

MODES = [dict(max_error=0.05), dict(relative_error=0.002), dict(pointwise_relative_error=0.01)]
LAYOUTS = [(np.float32, "C", False), (np.float16, "C", True), (np.float64, "F", True)]
LAYOUT_IDS = ["f4", "f2-nans", "f8-fortran"]


def with_zeros(shape=(48, 64), dtype=np.float32, order="C", nans=False, seed=0,
               scale=1.0) -> np.ndarray:
    """A1B-like values (in degrees C, times ``scale``: float16 keeps them within 0.01) with a
    block of zeros (a dry region, a land mask) and 1% of all values -0.0: most inside the
    block, a few among the other values beside a few +0.0."""
    a = (smooth_field(shape, seed).astype(np.float64) - 273.15) * scale
    a[: shape[0] * 2 // 5] = 0.0
    rng = np.random.default_rng(seed)
    zeros, others = np.flatnonzero(a == 0), np.flatnonzero(a != 0)
    a.flat[rng.choice(zeros, a.size // 100 - 4, replace=False)] = -0.0
    outliers = rng.choice(others, 8, replace=False)
    a.flat[outliers[:4]] = -0.0
    a.flat[outliers[4:]] = 0.0
    if nans:
        a[shape[0] // 3: shape[0] // 2, 5:20] = np.nan  # NaNs across the zeros and the values
    return np.asarray(a.astype(dtype), order=order)


def negative_zeros(a: np.ndarray) -> np.ndarray:
    return (a == 0) & np.signbit(a)


def same_zero_signs(original: np.ndarray, decoded: np.ndarray) -> bool:
    """Whether every zero that comes back as a zero has its own sign."""
    zero = (original == 0) & (decoded == 0)
    return np.array_equal(np.signbit(original[zero]), np.signbit(decoded[zero]))


def round_trip(settings: dict, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(the finite values, as decoded, in float64, and the bytes -0.0 cost): the bound checked."""
    codec = INRCodec(**settings)
    data = codec.encode(a)
    decoded = codec.decode(data)
    assert decoded.dtype == a.dtype and decoded.flags.f_contiguous == a.flags.f_contiguous
    finite = np.isfinite(a)
    assert np.array_equal(finite, np.isfinite(decoded))
    x, y = a[finite].astype(np.float64), decoded[finite].astype(np.float64)
    error = np.abs(y - x)
    if "pointwise_relative_error" in settings:
        assert np.all(error <= settings["pointwise_relative_error"] * np.abs(x))
    else:
        bound = settings.get("max_error", settings.get("relative_error", 0) * (x.max() - x.min()))
        assert error.max() <= bound
    plus = a.copy(order="K")
    plus[plus == 0] = 0.0  # the same chunk with every zero +0.0
    return x, y, len(data) - len(codec.encode(plus))


@pytest.mark.parametrize("settings", MODES, ids=lambda s: next(iter(s)))
@pytest.mark.parametrize("dtype, order, nans", LAYOUTS, ids=LAYOUT_IDS)
def test_negative_zeros_among_smooth_values(settings, dtype, order, nans):
    a = with_zeros(dtype=dtype, order=order, nans=nans)
    x, y, extra = round_trip(settings, a)
    assert same_zero_signs(x, y)
    if "pointwise_relative_error" in settings:  # zeros exact, and every sign kept
        assert np.array_equal(np.signbit(x), np.signbit(y)) and np.array_equal(x == 0, y == 0)
    assert extra <= negative_zeros(a).sum() * (a.itemsize + 3)  # the value and its index


@pytest.mark.parametrize("settings", [dict(max_error=0.05), dict(relative_error=2.0)],
                         ids=lambda s: next(iter(s)))
@pytest.mark.parametrize("dtype, order, nans", LAYOUTS, ids=LAYOUT_IDS)
def test_zeros_decoded_as_zeros_keep_their_sign(settings, dtype, order, nans):
    """Values all within the bound of zero (rain in m/s under a bound of a few mm/s) decode as
    zeros: each -0.0 among them is stored exactly, where it used to come back +0.0."""
    a = with_zeros(dtype=dtype, order=order, nans=nans, scale=0.001)
    x, y, extra = round_trip(settings, a)
    assert (y == 0).mean() > 0.9
    assert np.array_equal(np.signbit(x[x == 0]), np.signbit(y[x == 0]))
    assert extra <= negative_zeros(a).sum() * (a.itemsize + 3)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_each_bounded_kind_stores_a_zero_of_the_other_sign_exactly(dtype):
    """SPATIAL where every value decodes as a zero; the network's residual, by spatial
    prediction (BOUNDED_SPATIAL) or value by value (BOUNDED), where the prediction is exact:
    -0.0 + 0.0 decodes as +0.0."""
    bound = 0.05
    small = with_zeros(dtype=dtype, scale=0.001, nans=True)
    finite = np.isfinite(small)
    section, decoded = spatial.encode_spatial(small, finite, bound)
    again = spatial.decode_spatial(section, small.shape, small.dtype, finite, bound)
    assert again.tobytes() == decoded.tobytes()
    assert np.signbit(again[negative_zeros(small)]).all() and same_zero_signs(small, again)

    a = with_zeros(dtype=dtype, nans=True)
    finite = np.isfinite(a)
    prediction = np.where(finite, a, 0).astype(np.float64)
    norm = Normalisation.fit(a[finite])
    section, decoded = spatial.encode_residual(a, finite, prediction, bound, norm)
    again = spatial.decode_residual(section, prediction, a.dtype, finite, bound, norm)
    assert again.tobytes() == decoded.tobytes()
    assert np.abs(again.astype(np.float64) - a)[finite].max() <= bound
    assert np.signbit(again[negative_zeros(a)]).all() and same_zero_signs(a, again)

    assert np.signbit(bounded_round_trip(a, prediction, bound)).all()


def bounded_round_trip(a, prediction, bound):
    """The BOUNDED section's values at the -0.0s, encoded and decoded as sections/bounds.py does."""
    finite = np.isfinite(a)
    values, dtype = a[finite].astype(np.float64), a.dtype
    norm = Normalisation.fit(values)
    half = residual.half_step(bound, dtype, norm)
    assert half > 0
    symbols, missed = residual.quantize(values, prediction[finite], half, bound, norm, dtype,
                                        lambda v: cast(v, dtype))
    section = residual.encode(symbols, missed, a[finite][missed])
    symbols, exceptions, exact = residual.decode(section, int(finite.sum()), dtype)
    kept = cast(residual.reconstruct(prediction[finite], symbols, half), dtype)
    kept[exceptions] = exact
    assert np.abs(kept.astype(np.float64) - values).max() <= bound
    assert np.array_equal(np.signbit(kept[values == 0]), np.signbit(values[values == 0]))
    return kept[negative_zeros(a[finite])]


def test_a_zero_does_not_come_back_negative():
    """The reverse: +0.0 whose decoded value rounds to float16's -0.0 (from a tiny negative
    prediction, or an interpolated -3e-8) is stored exactly too."""
    a = with_zeros(dtype=np.float16)
    a[a == 0] = 0.0
    prediction = np.where(a == 0, -1e-9, a.astype(np.float64))
    bounded_round_trip(a, prediction, 0.5)  # checks the sign of every zero

    dry = smooth_field((48, 64), 6).astype(np.float64) - 282
    dry = np.where(dry > 0, dry, 0.0).astype(np.float16)  # +0.0 only
    _, decoded = spatial.encode_spatial(dry, np.isfinite(dry), 0.05)
    assert not ((decoded == 0) & np.signbit(decoded))[dry == 0].any()


@pytest.mark.parametrize("settings", MODES + [{}], ids=lambda s: next(iter(s), "psnr"))
def test_a_chunk_of_negative_zeros_is_constant_and_keeps_its_sign(settings):
    codec = INRCodec(**settings)
    for dtype in (np.float16, np.float32, np.float64):
        a = np.full((16, 24), -0.0, dtype)
        a[3:5, 2:9] = np.nan
        decoded = codec.decode(codec.encode(np.asfortranarray(a)))
        assert decoded.flags.f_contiguous
        assert np.array_equal(np.isnan(decoded), np.isnan(a))
        assert np.signbit(decoded[~np.isnan(a)]).all()


@pytest.mark.parametrize("settings", [dict(max_error=0.1), dict(relative_error=0.01),
                                      dict(pointwise_relative_error=1e-3)])
@pytest.mark.parametrize("dtype", ["f2", "f4", "f8"])
def test_a_chunk_of_mixed_zeros_keeps_each_sign_under_a_pointwise_bound(settings, dtype):
    """+0.0 and -0.0 alone are one value to min and max, not a constant: under a promise about
    every value each sign is kept, in a few bytes a -0.0."""
    a = np.zeros((64, 96), dtype)
    a[::3, ::5] = -0.0
    a[1, :4] = np.nan
    codec = INRCodec(**settings)
    data = codec.encode(a)
    decoded = codec.decode(data)
    assert np.array_equal(np.isnan(decoded), np.isnan(a))
    assert np.array_equal(np.signbit(decoded[~np.isnan(a)]), np.signbit(a[~np.isnan(a)]))
    assert len(data) < a.nbytes / 4


@pytest.mark.parametrize("settings", [dict(min_psnr=40), dict(min_psnr=None),
                                      dict(bits_per_value=0.5)])
def test_a_chunk_of_mixed_zeros_is_a_constant_where_no_value_is_promised(settings):
    """A floor or a size budget promises nothing of one value: the chunk stays a few bytes (a
    budget's promise would break with every -0.0 stored), its values zeros."""
    a = np.zeros((64, 96), "f4")
    a[::3, ::5] = -0.0
    codec = INRCodec(**settings)
    data = codec.encode(a)
    assert len(data) < 20 and (codec.decode(data) == 0).all()
