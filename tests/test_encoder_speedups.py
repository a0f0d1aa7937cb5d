"""The encoder's faster paths give the numbers of the paths they replace, bit for bit: the
trials' whole sweep in one compiled call (``kernels._batch_sweep`` via ``trials.Batch``) and the
residual coder's scale search with every table built in one pass (``residual._probabilities``
over an array of codes). So the encoder's choices, and its bytes, are unchanged."""

import math

import numpy as np
import pytest

from inrcodec import INRCodec
from inrcodec.coding import kernels, residual
from inrcodec.coding.entropy import logistic_cdf
from inrcodec.coding.interp.trials import Batch
from inrcodec.coding.normalise import scale_from_code

compiled_only = pytest.mark.skipif(kernels.compiled() is None, reason="numba is not installed")
pytestmark = pytest.mark.usefixtures("every_call_compiled")  # (conftest.py)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a.view(np.int64 if a.dtype.itemsize == 8 else np.int32),
                              b.view(np.int64 if b.dtype.itemsize == 8 else np.int32))
    return np.array_equal(a, b)


def _field(shape, seed, missing=False):
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 3, n) for n in shape], indexing="ij")
    values = sum(np.sin((i + 1) * g) for i, g in enumerate(grids)) + 0.05 * rng.normal(size=shape)
    values[tuple(rng.integers(0, n) for n in shape)] = 40.0  # a spike that escapes
    mask = None
    if missing:
        mask = rng.random(shape) < 0.2
        mask[(slice(0, max(1, shape[0] // 2)),) + (slice(None),) * (len(shape) - 1)] = True
        values = np.where(mask, 0.0, values)
    return values, mask


CASES = [((37,), False, 0), ((1, 37, 49), False, 0), ((12, 37, 49), False, 0), ((12, 37, 49), True, 0),
         ((5, 17, 23), False, 1), ((2, 3, 9, 11), True, 0), ((2, 3, 9, 11), False, 5),
         ((2, 2, 3, 5, 7), False, 2), ((3, 1, 1), False, 0), ((1,), False, 0)]
OPTIONS = [[(True, 1), (False, 1)], [(True, 0), (True, 2), (True, 3)], [(False, 2)]]


@compiled_only
@pytest.mark.parametrize("shape, missing, batch_axes", CASES)
@pytest.mark.parametrize("reverse", [False, True])
def test_the_whole_sweep_compiled_is_the_step_by_step_sweep(numpy_only, shape, missing, batch_axes,
                                                             reverse):
    values, mask = _field(shape, len(shape) + batch_axes, missing)
    for options in OPTIONS:
        for half in (0.01, 0.3):
            made = {}
            for numpy in (True, False):
                numpy_only(numpy)
                batch = Batch(values, half, mask, options, reverse, batch_axes)
                assert (batch.results is None) == (not numpy)
                made[numpy] = (batch.recon, batch.bits(),
                               [batch.take(i) for i in range(len(options))])
            (recon, bits, taken), (recon2, bits2, taken2) = made[True], made[False]
            assert _same(recon, recon2) and _same(bits, bits2)
            for (sweep, symbols), (sweep2, symbols2) in zip(taken, taken2):
                assert _same(sweep.recon, sweep2.recon) and _same(sweep.anchor_q, sweep2.anchor_q)
                assert len(symbols) == len(symbols2)
                for (q, bucket), (q2, bucket2) in zip(symbols, symbols2):
                    assert _same(q, q2) and _same(bucket, bucket2)


@compiled_only
def test_the_whole_sweep_keeps_nan_and_escapes(numpy_only):
    values, _ = _field((6, 33, 40), 3)
    values[2, 10, 11] = np.nan
    values[4, 5, 6] = 1e300  # |q| past the escape limit: coded as 0
    made = []
    for numpy in (True, False):
        numpy_only(numpy)
        batch = Batch(values, 1e-3, None, OPTIONS[0], False)
        made.append((batch.recon, batch.bits(), batch.take(1)[1]))
    nan = np.isnan(made[0][0])
    assert np.array_equal(nan, np.isnan(made[1][0]))
    assert _same(np.where(nan, 0, made[0][0]), np.where(nan, 0, made[1][0]))
    assert _same(made[0][1], made[1][1])
    assert all(_same(a, c) and _same(b, d) for (a, b), (c, d) in zip(made[0][2], made[1][2]))


@pytest.mark.parametrize("k", [1, 3, 40, 700])
def test_the_scale_search_builds_each_table_as_alone(k):
    codes = np.arange(-40, 80, 7)
    tables = residual._probabilities(codes, k)
    for code, row in zip(codes, tables):
        s = scale_from_code(int(code)) * math.sqrt(3.0) / math.pi  # the table built alone
        edges = logistic_cdf((np.arange(-k, k, dtype=np.float64) + 0.5) / s)
        alone = np.maximum(np.diff(np.concatenate([[0.0], edges, [1.0]])), 1e-300)
        assert _same(row, alone) and _same(residual._probabilities(int(code), k), alone)


def test_the_scale_search_picks_the_fewest_bits():
    rng = np.random.default_rng(0)
    for scale in (0.3, 2.0, 30.0):
        symbols = np.rint(rng.laplace(0, scale, 5000)).astype(np.int64)
        k = int(np.abs(symbols).max())
        rms = math.sqrt(float(np.mean(symbols.astype(np.float64) ** 2)))
        around = round(4 * math.log2(max(rms, 0.05)))
        counts = np.bincount(symbols + k, minlength=2 * k + 1)
        used = counts > 0

        def bits(code, k=k, counts=counts, used=used):
            p = residual._probabilities(code, k)
            return float(-(counts[used] * np.log2(p[used] / p.sum())).sum())

        assert residual._best_scale_code(symbols, k) == min(
            range(max(-40, around - 16), min(80, around + 5)), key=bits)


@compiled_only
@pytest.mark.parametrize("settings", [{}, {"max_error": 0.3}, {"max_error": 0.03},
                                      {"relative_error": 0.001}])
def test_a_codec_writes_the_same_bytes_either_way(numpy_only, settings):
    from inrcodec.sample_data import A1B_TEST, load_a1b

    test = load_a1b()[A1B_TEST]
    holed = test[12:24].copy()
    holed[:, 5:15, 10:20] = np.nan
    chunks = [test[:12], test[30:31], holed, np.ascontiguousarray(test[:24].reshape(2, 12, 37, 49))]
    codec = INRCodec("linear-2d", **settings)
    written = {}
    for numpy in (True, False):
        numpy_only(numpy)
        written[numpy] = [codec.encode(c) for c in chunks]
    assert written[True] == written[False]
