"""Property-based checks: any chunk either round-trips with the codec's guarantees or is refused
with a clear error."""

import json
from pathlib import Path

import numcodecs
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

FIXTURE_CODEC = json.loads(
    (Path(__file__).parent / "fixtures" / "v1" / "latents" / "codec.json").read_text())
codec = numcodecs.get_codec(FIXTURE_CODEC)  # a small 2-D model of 8 x 8 patches: fast

DTYPES = ["<f2", "<f4", ">f4", "<f8", "u1", "i1", "<u2", ">i2", "<i4", "<u8", "<i8"]


@st.composite
def chunks(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=11))
    if dtype.kind == "f":
        finite = st.floats(-1e4, 1e4, width=8 * min(dtype.itemsize, 4))
        if dtype.itemsize == 8 and draw(st.booleans()):
            finite = st.floats(-1e150, 1e150)  # huge magnitudes, and spreads of a few ulps
        special = st.sampled_from([np.nan, np.inf, -np.inf])
        elements = st.one_of(finite, finite, finite, special) if draw(st.booleans()) else finite
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(int(info.min), -2 ** 53), min(int(info.max), 2 ** 53))
    array = draw(hnp.arrays(dtype, shape, elements=elements, fill=st.nothing()))
    if draw(st.booleans()):
        array = np.full(shape, array.flat[0], dtype)  # constant chunks
    return np.asfortranarray(array) if draw(st.booleans()) else array


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(chunks())
def test_round_trip_keeps_its_promises_or_refuses_clearly(chunk):
    if chunk.dtype.kind == "f" and np.isinf(chunk).any():
        try:
            codec.encode(chunk)
        except ValueError as e:
            assert "Inf" in str(e)
            return
        raise AssertionError("Inf was accepted")
    data = codec.encode(chunk)
    decoded = codec.decode(data)
    assert decoded.dtype == chunk.dtype and decoded.shape == chunk.shape
    fortran = chunk.flags.f_contiguous and not chunk.flags.c_contiguous
    assert decoded.flags.f_contiguous if fortran else decoded.flags.c_contiguous
    if chunk.dtype.kind == "f":
        assert np.array_equal(np.isnan(decoded), np.isnan(chunk))
        assert np.isfinite(decoded[~np.isnan(decoded)]).all()
    finite = chunk[~np.isnan(chunk)] if chunk.dtype.kind == "f" else chunk.ravel()
    if finite.size and (finite == finite[0]).all():
        assert np.array_equal(decoded, chunk, equal_nan=True)  # constant chunks are exact
    assert codec.encode(chunk) == data  # deterministic


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(chunks(), st.floats(0.01, 100.0))
def test_the_error_bound_holds_for_any_chunk_or_is_refused_clearly(chunk, bound):
    bounded = numcodecs.get_codec({**FIXTURE_CODEC, "max_error": bound})
    try:
        data = bounded.encode(chunk)
    except ValueError as e:  # Inf, or a bound finer than the dtype can resolve
        assert "Inf" in str(e) or "resolution" in str(e)
        return
    decoded = bounded.decode(data)
    assert decoded.dtype == chunk.dtype and decoded.shape == chunk.shape
    original, back = chunk.astype(np.float64), decoded.astype(np.float64)
    assert np.array_equal(np.isnan(original), np.isnan(back))
    finite = ~np.isnan(original)
    assert np.all(np.abs(back[finite] - original[finite]) <= bound)
