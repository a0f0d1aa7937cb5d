"""The compiled kernels (coding/kernels.py) give the numpy path's numbers bit for bit, so a
chunk's bytes and its decoded values do not depend on whether numba is installed."""

import os
import subprocess
import sys

import numpy as np
import pytest

from inrcodec import INRCodec
from inrcodec.coding import interp, kernels
from inrcodec.coding.interp.sweep import buckets, interpolate, quantize
from inrcodec.coding.interp.trials import Batch

pytestmark = [pytest.mark.skipif(kernels.compiled() is None, reason="numba is not installed"),
              pytest.mark.usefixtures("every_call_compiled")]  # (conftest.py)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit, -0.0 included; a NaN matches any NaN (which operand's NaN an operation
    passes on is the compiler's choice: such points are stored exactly or missing)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and a[~nan].tobytes() == b[~nan].tobytes()


def awkward(rng, shape) -> np.ndarray:
    """Values of many magnitudes with NaN, infinities, -0.0 and ties for rounding."""
    x = rng.normal(size=shape) * 10.0 ** rng.integers(-8, 9, size=shape)
    for special in (np.nan, np.inf, -np.inf, -0.0, 0.5, 1.5, 1e300, -1e300):
        if x.size > 8:
            x.flat[rng.integers(x.size)] = special
    return x


def test_predictions_and_buckets_match_numpy():
    rng = np.random.default_rng(0)
    for _ in range(400):
        n = int(rng.integers(1, 10))
        m = n if rng.random() < 0.5 or n == 1 else n - 1
        shape = (n,) + tuple(int(s) for s in rng.integers(1, 5, size=rng.integers(0, 4)))
        known = awkward(rng, shape)
        if rng.random() < 0.5 and known.ndim > 1:  # a strided view, as the sweep's are
            known = np.repeat(known, 2, axis=-1)[..., ::2]
        cubic, quantum = bool(rng.random() < 0.5), float(rng.choice([1e-3, 0.5, 2.0, 1e6]))
        pred, bucket = kernels.predict_buckets(known, m, cubic, quantum, settings=False)
        assert same(pred, interpolate(known, m, cubic)) and same(bucket, buckets(known, m, quantum))


def test_an_encoding_step_matches_numpy_with_settings_and_missing_points():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, settings = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        m = n if rng.random() < 0.5 or n == 1 else n - 1
        others = tuple(int(s) for s in rng.integers(1, 4, size=rng.integers(0, 4)))
        known = awkward(rng, (n, settings) + others)
        values = awkward(rng, (m,) + others)
        coded = rng.random((m,) + others) < 0.8 if rng.random() < 0.5 else None
        cubic = [True] * int(rng.integers(0, settings + 1))
        cubic += [False] * (settings - len(cubic))
        quantum = rng.choice([1e-3, 0.5, 3.0], size=settings).reshape((1, settings) + (1,) * len(others))
        out = np.full((m, settings) + others, np.nan)
        q, bucket = kernels.encode_step(known, m, cubic, quantum, True, values, coded, out)
        c = sum(cubic)
        pred = np.concatenate([interpolate(known[:, :c], m, True),
                               interpolate(known[:, c:], m, False)], axis=1)
        want = quantize(values[:, None] - pred, quantum)
        if coded is not None:
            want = np.where(coded[:, None], want, 0.0)
        assert same(q, want) and same(bucket, buckets(known, m, quantum))
        assert same(out, pred + want * quantum)


def test_trial_bit_estimates_match_numpy(numpy_only):
    rng = np.random.default_rng(2)
    values = np.cumsum(rng.normal(size=(9, 40, 33)), axis=1)
    missing = rng.random(values.shape) < 0.1
    options = [(True, 0), (True, 2), (False, 1), (False, 3)]
    for half in (1e-3, 0.3, 30.0):
        for batch_axes in (0, 1):
            bits = [Batch(values, half, missing, options, reverse, batch_axes).bits()
                    for reverse in (False, True)]
            numpy_only(True)
            assert all(same(b, Batch(values, half, missing, options, reverse, batch_axes).bits())
                       for b, reverse in zip(bits, (False, True)))
            numpy_only(False)


def stacked_chunks(fields: np.ndarray) -> list[np.ndarray]:
    """A1B fields, one and 12 to a chunk, a (time, level, lat, lon) stack of unlike levels,
    a masked field and a long series: what the coders' steps, trials and batch axes see."""
    fields = fields.astype(np.float32)
    levels = np.stack([fields[:3] + 1000.0 * k for k in range(3)], axis=1)
    masked = fields[0].copy()
    masked[:10, :20] = np.nan
    series = np.cumsum(np.random.default_rng(3).normal(size=5000)).astype(np.float32)
    return [fields[:1], fields[:12], levels.astype(np.float32), masked, series[None]]


@pytest.mark.parametrize("settings", [{}, {"max_error": 0.05}, {"relative_error": 0.01},
                                      {"min_psnr": 30.0}, {"pointwise_relative_error": 0.01}])
def test_the_bytes_do_not_depend_on_numba(numpy_only, a1b, settings):
    codec = INRCodec(**settings)
    for chunk in stacked_chunks(a1b[:12]):
        data = codec.encode(chunk)
        decoded = codec.decode(data)
        numpy_only(True)
        assert bytes(codec.encode(chunk)) == bytes(data)
        assert same(codec.decode(data), decoded)
        numpy_only(False)


def test_interpolation_sections_match_numpy_at_every_bound(numpy_only):
    rng = np.random.default_rng(4)
    for shape in [(200,), (37, 49), (3, 40, 41), (2, 3, 17, 19), (1, 1), (2, 3)]:
        values = np.cumsum(rng.normal(size=shape), axis=-1)
        missing = rng.random(shape) < 0.1
        for half in (1e-6, 0.01, 5.0):
            section, recon = interp.encode(values, half, missing)
            numpy_only(True)
            again, numpy_recon = interp.encode(values, half, missing)
            assert again == section and same(numpy_recon, recon)
            assert same(interp.decode(section, shape, half, missing), recon)
            numpy_only(False)


def test_a_reader_of_a_few_chunks_never_imports_numba_and_one_of_many_does(a1b):
    data = bytes(INRCodec(max_error=0.01).encode(np.tile(a1b[:12], (1, 4, 4)).astype(np.float32)))
    script = ("import sys, inrcodec\n"
              "from inrcodec.coding import kernels\n"
              "data, codec = sys.stdin.buffer.read(), inrcodec.INRCodec(max_error=0.01)\n"
              "first = codec.decode(data)\n"
              "assert 'numba' not in sys.modules\n"
              "kernels.LOAD_AFTER_WORK = 2 * first.size  # passed by the next chunk\n"
              "assert codec.decode(data).tobytes() == first.tobytes()\n"
              "assert 'numba' in sys.modules and kernels._LOADED\n")
    subprocess.run([sys.executable, "-c", script], input=data, check=True)


def test_inrcodec_kernels_numpy_turns_the_kernels_off_in_a_fresh_process(a1b):
    chunk = a1b[:12].astype(np.float32)
    script = ("import sys, numpy as np, inrcodec\n"
              "from inrcodec.coding import kernels\n"
              "assert kernels.compiled() is None\n"
              "chunk = np.frombuffer(sys.stdin.buffer.read(), 'f4').reshape(12, 37, 49)\n"
              "sys.stdout.buffer.write(bytes(inrcodec.INRCodec(max_error=0.1).encode(chunk)))\n")
    result = subprocess.run([sys.executable, "-c", script], input=chunk.astype("f4").tobytes(),
                            capture_output=True, env={**os.environ, "INRCODEC_KERNELS": "numpy"},
                            check=True)
    assert result.stdout == bytes(INRCodec(max_error=0.1).encode(chunk))


def test_the_wavelet_transform_matches_numpy(numpy_only):
    """Uneven levels (a batch axis, a short axis) and five axes included."""
    from inrcodec.coding import dwt

    rng = np.random.default_rng(5)
    for shape in [(2,), (9,), (37, 49), (12, 37, 49), (3, 5, 40, 41), (2, 2, 2, 2), (1, 300),
                  (40, 7, 33), (2, 9, 3, 10, 17)]:
        x = awkward(rng, shape) if len(shape) > 1 else rng.normal(size=shape)
        levels = tuple(dwt.levels_of(n) for n in shape)
        for uneven in (levels, (0,) + levels[1:]):
            forward = dwt.forward(x, uneven)
            back = dwt.inverse(forward, uneven)
            numpy_only(True)
            assert same(dwt.forward(x, uneven), forward) and same(dwt.inverse(forward, uneven), back)
            numpy_only(False)


def test_one_lifting_step_matches_numpy_on_every_length_and_layout(numpy_only):
    """kernels.lift against dwt.split and dwt.merge, one level along axis 0: lengths 2 to 21
    (the pipelined lifting's mirrored edges and the steps between them), lines along memory
    and rows across it, contiguous and strided, on values of every magnitude, NaN and infinities
    included, so that any reordered operation shows."""
    from inrcodec.coding import dwt

    rng = np.random.default_rng(8)
    for n in list(range(2, 22)) + [64, 101]:
        for shape in [(n,), (n, 7), (n, 3, 5), (n, 2, 3, 4), (n, 1, 9)]:
            x = awkward(rng, shape)
            ns = (n + 1) // 2
            for view in (x, np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0),
                         np.repeat(x, 2, axis=-1)[..., ::2]):
                forward, back = view.copy(), view.copy()
                assert kernels.lift(forward, ns, False, dwt.FACTORS)
                assert kernels.lift(back, ns, True, dwt.FACTORS)
                assert same(forward, np.concatenate(dwt.split(view)))
                assert same(back, dwt.merge(view[:ns], view[ns:])), (n, shape)


def test_wavelet_sections_decode_as_numpy_does(numpy_only):
    """The decoder's compiled path (in-place inverse, bands of zeros dequantized by a fill,
    parents of zeros taken as bucket 0 unseen) against the numpy path, bit for bit: smooth
    fields whose fine bands are all zero and noisy ones whose bands are not."""
    from inrcodec.coding import wavelet

    rng = np.random.default_rng(9)
    for shape in [(300,), (37, 49), (12, 37, 49), (1, 300), (300, 1), (5, 64, 64), (3, 2, 17, 33)]:
        smooth = np.cumsum(np.cumsum(rng.normal(size=shape), axis=0), axis=-1)
        for values in (smooth, smooth + rng.normal(size=shape)):
            for code in (-60, 0, 60, 200):
                section, recon = wavelet.encode(values, code)
                decoded = wavelet.decode(section, shape)
                numpy_only(True)
                assert same(wavelet.decode(section, shape), decoded), (shape, code)
                assert same(wavelet.encode(values, code)[1], recon)
                numpy_only(False)
                assert same(decoded, recon)


def test_a_wavelet_section_decodes_in_one_call_as_numpy_does(numpy_only, monkeypatch):
    """Every band in one compiled call (``kernels.decode_bands``, taken wherever a chunk has
    at most four axes) against the numpy path, bit for bit: with batch axes, with escaped
    values (heavy tails at fine steps), and with a fifth axis (band by band)."""
    from inrcodec.coding import wavelet

    calls = []
    one_call = kernels.decode_bands
    monkeypatch.setattr(kernels, "decode_bands", lambda *a: calls.append(1) or one_call(*a))
    rng = np.random.default_rng(13)
    escapes = 0
    for shape, batch_axes in [((300,), 0), ((37, 49), 1), ((12, 37, 49), 1), ((3, 5, 40, 41), 3),
                              ((2, 2, 2, 2), 0), ((64, 3), 2), ((2, 3, 4, 5, 6), 0)]:
        smooth = np.cumsum(rng.normal(size=shape), axis=-1)
        tails = smooth + rng.standard_t(1, size=shape) * 100
        for values in (smooth, tails):
            coefficients = wavelet.Coefficients(values, batch_axes=batch_axes)
            for code in (-80, 0, 40):
                section = coefficients.section(code)
                reader = wavelet.Reader(section, 1)
                reader.svarint()
                escapes += reader.varint()
                before = len(calls)
                decoded = wavelet.decode(section, shape)
                assert len(calls) == before + (len(shape) <= 4)
                numpy_only(True)
                expected = wavelet.decode(section, shape)
                numpy_only(False)
                assert same(decoded, expected), (shape, batch_axes, code)
    assert escapes > 0


def test_a_band_of_zeros_dequantizes_to_what_numpy_gives(numpy_only):
    """q = 0 gives 0.0 x (0 - PULL) x step, -0.0, not 0.0: a band of zeros is written."""
    from inrcodec.coding.wavelet import Plan

    for step_code in (-40, 0, 16 * 1023 + 15, -16 * 1100):
        plan = Plan((40, 33), step_code)
        for i, (_, _, slices) in enumerate(plan.bands):
            q = np.zeros(tuple(s.stop - s.start for s in slices), np.int64)
            numpy_only(True)
            expected = plan.dequantize(i, q)
            numpy_only(False)
            out = np.ones((3,) + q.shape)[1]  # written in place, as the decoder's band
            assert same(plan.dequantize(i, q, out), expected) and same(out, expected)


def test_the_kernels_compile_where_no_cache_directory_is_writable(monkeypatch):
    import numba

    njit = numba.njit

    def uncacheable(*args, cache=False, **options):
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return njit(*args, **options)

    monkeypatch.setattr(numba, "njit", uncacheable)
    # Each kernel is compiled by _jit: one shows the fallback (all of them take 40 s uncached).
    cell, q = np.array([0, 1, 1]), np.array([3.0, -1.0, 2.0])
    assert np.allclose(kernels._jit(numba, kernels._cell_rms)(cell, q, 2), [3.0, np.sqrt(2.5)])


def test_the_wavelet_contexts_and_dequantization_match_numpy(numpy_only):
    """Every band's buckets (from a parent of awkward values) and its dequantized q, 1-D to
    4-D, with and without batch axes."""
    from inrcodec.coding.wavelet import Plan

    rng = np.random.default_rng(11)
    for shape, batch_axes in [((300,), 0), ((37, 49), 0), ((12, 37, 49), 1), ((3, 5, 40, 41), 3),
                              ((2, 2, 2, 2), 0), ((1, 300), 0), ((64, 3), 2)]:
        plan = Plan(shape, int(rng.integers(-40, 10)), batch_axes)
        coefficients = awkward(rng, shape)
        for i, (_, _, slices) in enumerate(plan.bands):
            band_shape = tuple(s.stop - s.start for s in slices)
            q = rng.integers(-5, 6, size=band_shape) * (rng.random(band_shape) < 0.5)
            numpy_only(True)
            expected = plan.buckets(i, coefficients), plan.dequantize(i, q)
            numpy_only(False)
            got = plan.buckets(i, coefficients), plan.dequantize(i, q)
            assert same(got[0], expected[0]) and same(got[1], expected[1]), (shape, i)


def test_a_bands_quantizer_matches_numpy_on_awkward_values(numpy_only):
    """Each band quantized and dequantized row by row, its nonzero count and its refusal of a
    step too fine (or of a NaN), on values of many magnitudes with NaN, infinities and -0.0,
    at steps from 0 to huge."""
    from inrcodec.coding.wavelet import Plan

    rng = np.random.default_rng(14)
    for shape in [(300,), (37, 49), (12, 37, 49), (3, 5, 40, 41)]:
        coefficients = awkward(rng, shape)
        for code in (-16 * 1100, -900, -40, 0, 60, 16 * 1000):
            plan = Plan(shape, code)
            for i in range(len(plan.bands)):
                results = []
                for numpy in (True, False):
                    numpy_only(numpy)
                    out = np.full(shape, 7.0)
                    try:
                        q, nonzero = plan.quantize_into(i, coefficients, out, True)
                        results.append((q.tobytes(), nonzero, out.tobytes()))
                    except ValueError as e:
                        results.append(str(e))
                assert results[0] == results[1], (shape, code, i)


def test_a_kernel_numba_cannot_compile_turns_them_all_off_at_load(monkeypatch):
    """Every kernel is compiled (or loaded) when the kernels load, so a numba that cannot
    type one falls back to numpy there, not in the middle of a chunk."""
    def untypable(q, pull, step, out):
        out[0, 0, 0, 0] = {"a": object()}["a"]

    monkeypatch.setattr(kernels, "_dequantize", untypable)
    kernels._compiled.cache_clear()
    try:
        assert kernels.compiled() is None
    finally:
        monkeypatch.undo()
        kernels._compiled.cache_clear()
    assert kernels.compiled() is not None


def test_a_floors_trials_and_sections_match_numpy(numpy_only):
    """The wavelet's reconstructions (quantized and dequantized in one pass) and sections,
    1-D to 4-D, to a step too fine for the values (the same refusal)."""
    from inrcodec.coding import wavelet

    rng = np.random.default_rng(12)
    for shape in [(300,), (37, 49), (12, 37, 49), (3, 5, 40, 41), (2, 2, 2, 2)]:
        values = np.cumsum(rng.normal(size=shape), -1) * 10.0 ** rng.integers(-3, 4)
        coefficients = wavelet.Coefficients(values)
        for code in (-900, -120, -40, 0, 30):
            results = []
            for numpy in (True, False):
                numpy_only(numpy)
                try:
                    recon, nonzero = coefficients.reconstruction(code)
                    results.append((recon.tobytes(), nonzero, coefficients.section(code)))
                except ValueError as e:
                    results.append(str(e))
            assert results[0] == results[1], (shape, code)


def test_the_fill_and_the_plans_tables_match_numpy(numpy_only):
    from inrcodec.coding import tables, wavelet

    rng = np.random.default_rng(13)
    for shape in [(1, 37, 49), (60, 70), (2, 6, 37, 49), (100,), (5, 1, 7), (1, 1)]:
        values, missing = rng.normal(size=shape), rng.random(shape) < 0.4
        missing.flat[0] = False
        results = []
        for numpy in (True, False):
            numpy_only(numpy)
            results.append(wavelet.fill(values, missing).tobytes())
        assert results[0] == results[1], shape
    for _ in range(200):
        levels = int(rng.integers(1, 12))
        costs = rng.random((levels, 6, tables.SCALE_CODES)) * rng.choice([1.0, 1e3, 1e6])
        level_codes = rng.integers(0, tables.SCALE_CODES, (levels, int(rng.integers(1, 20))))
        activities = rng.integers(0, tables.SCALE_CODES, int(rng.integers(1, 10)))
        slope = 4 + int(rng.integers(5))
        results = []
        for numpy in (True, False):
            numpy_only(numpy)
            results.append(tables._totals(costs, level_codes, activities, slope))
        assert same(results[0], results[1])


def test_the_plans_cell_costs_are_summed_in_numpys_order(numpy_only):
    """Runs of every length numpy's pairwise sum treats apart (under 8, 8 to 128, halved past
    128, at odd multiples), and whole plans of wide and narrow symbols: the same bits."""
    from inrcodec.coding import tables

    rng = np.random.default_rng(15)
    matrix = tables.bit_matrix()
    for length in [*range(1, 140), 255, 256, 257, 263, 1000, 1031, 2049, 8195]:
        index = rng.integers(0, matrix.shape[0], length)
        counts = rng.integers(1, 10 ** int(rng.integers(1, 7)), length)
        starts = np.array([0])
        for shapes in [(0, 1, 2, 3), (2,)]:
            wanted = np.add.reduceat(matrix[index][:, list(shapes)] * counts[:, None, None],
                                     starts, axis=0)
            assert same(kernels.cell_costs(index, counts, starts, matrix, shapes), wanted), length
    for scale in (0.3, 30.0, 3e4):
        levels = [2, 1, 1, 0, 0, 0]
        symbols = [(np.rint(rng.standard_t(2, size=n) * scale).astype(np.int64),
                    rng.integers(0, tables.CONTEXTS, n).astype(np.int8)) for n in (30, 60, 60, 900, 2000, 5)]
        results = []
        for numpy in (True, False):
            numpy_only(numpy)
            results.append(repr(tables.plan(levels, symbols, slopes=(4, 6))))
        assert results[0] == results[1], scale


def test_trial_cell_estimates_match_numpy_on_heavy_tails(numpy_only):
    """Octaves counted without libm and the offsets' sums kept per cell: q past 2^15 and
    escapes included."""
    rng = np.random.default_rng(14)
    values = np.cumsum(rng.standard_t(1.2, size=(6, 50, 40)), axis=1) * 100
    for half in (1e-4, 0.5, 50.0):
        got = Batch(values, half, None, [(True, 1), (False, 1)], False).bits()
        numpy_only(True)
        assert same(got, Batch(values, half, None, [(True, 1), (False, 1)], False).bits())
        numpy_only(False)


def test_a_linear_model_s_chunk_matches_numpy(numpy_only, monkeypatch):
    """A linear model's values put back into the chunk and un-normalised in one pass: the
    numpy path's bits, for 1-D to 3-D patches, chunks that pad them and chunks with leading
    axes, products in float32 and in float64 (symbols past 2^24), offsets large and none,
    with the chunk's places kept or made each time (a large chunk's)."""
    from inrcodec import patches as patches_module
    from inrcodec.coding.normalise import Normalisation
    from inrcodec.linear import LinearModel

    rng = np.random.default_rng(13)
    for patch, chunk in [((16,), (3, 40)), ((8, 8), (20, 13)), ((8, 8), (2, 3, 16, 16)),
                         ((4, 5, 6), (7, 9, 11))]:
        points = int(np.prod(patch))
        model = LinearModel(patch, rng.normal(size=points), rng.integers(-2 ** 15, 2 ** 15, (6, points)),
                            17, np.ones(6))
        patches = int(np.prod([-(-c // p) for c, p in zip(chunk[-len(patch):], patch)]))
        patches *= int(np.prod(chunk[:-len(patch)]))
        for largest in (3, 2 ** 15):
            symbols = rng.integers(-largest, largest + 1, (patches, 6))
            for norm in (Normalisation(0, 0), Normalisation(-123456, -7), Normalisation(99, 40)):
                monkeypatch.setattr(patches_module, "PLACES_REMEMBERED", 0 if largest == 3 else 1 << 22)
                results = []
                for numpy in (True, False):
                    numpy_only(numpy)
                    results.append(model.chunk_values(symbols, 0.37, chunk, norm))
                assert same(*results), (patch, chunk, largest, norm)


def test_a_streams_symbols_are_ordered_and_counted_as_numpy_does(numpy_only):
    """A step's symbols put in coding order (bucket by bucket, escapes apart) and the plan's
    histogram counted densely: numpy's stable sort and np.unique, on steps of every size,
    heavy-tailed q past the tables' reach, and buckets some of which are empty."""
    from inrcodec.coding import rangecoder, tables

    rng = np.random.default_rng(14)
    for size in (1, 7, 1000, 50_000):
        for tail in (1, 40, 10 ** 5):
            q = np.rint(rng.standard_t(2, size) * tail).astype(np.int64)
            bucket = rng.choice([0, 2, 3, 5], size).astype(np.int8)
            widths = rng.integers(0, 300, tables.CONTEXTS)
            compiled = kernels.by_bucket(q, bucket, widths)
            for got, want in zip(compiled, rangecoder._by_bucket(q, bucket, widths)):
                assert got.tolist() == want.tolist(), (size, tail)
            half = size // 2 + 1
            symbols = [(q, bucket), (q[::-1].copy(), bucket), (q[:half] // 3, bucket[:half])]
            levels = [3, 1, 3]
            results = []
            for numpy in (True, False):
                numpy_only(numpy)
                results.append(tables.plan(levels, symbols))
            assert results[0] == results[1], (size, tail)
            counted = kernels.cell_counts(symbols, [0, 1, 0], 2 * tables.CONTEXTS, tables.MAX_K + 1)
            if counted is not None:  # (a histogram far larger than the points sorts them instead)
                rows = {3: 0, 1: 1}
                width = 2 * tables.MAX_K + 3
                keys = np.concatenate([(rows[level] * tables.CONTEXTS + b.astype(np.int64)) * width
                                       + np.clip(v, -tables.MAX_K - 1, tables.MAX_K + 1) + tables.MAX_K + 1
                                       for level, (v, b) in zip(levels, symbols)])
                for got, want in zip(counted, np.unique(keys, return_counts=True)):
                    assert got.tolist() == want.tolist(), (size, tail)


def test_the_latents_probability_tables_match_numpy(numpy_only):
    """``entropy._tables`` built in one compiled pass: numpy's float32 probabilities bit for
    bit (every decoder of latents builds them), for every bundled 2-D model's spreads, coarse
    to the finest resolution, and spreads far under the step."""
    from inrcodec.coding import entropy
    from inrcodec.model import resolve

    keys = [resolve(name).quantizer(bits, fraction).tables_key
            for name in ("linear-2d", "default-2d") for bits, fraction in ((1, 0), (6, 8), (12, 15))]
    keys.append(((1e-9, 0.3, 7.0), 0.5, -40, 81))  # (1e-9: the floor at 1e-6 steps)
    for key in keys:
        tables = []
        for numpy in (True, False):
            numpy_only(numpy)
            entropy._tables.cache_clear()
            tables.append(entropy._tables(*key))
        assert same(*tables), key[1:]
    entropy._tables.cache_clear()
