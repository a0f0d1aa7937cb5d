"""The interpolation coder (coding/interp/): bounds, determinism, edge cases, corruption."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from inrcodec.coding import interp, tables
from inrcodec.coding.bytes import ContainerError
from inrcodec.coding.interp import stream, sweep, trials


def smooth(shape, seed=0, scale=1.0):
    """A smooth random field: cumulative sums of noise along every axis."""
    x = np.random.default_rng(seed).normal(size=shape)
    for axis in range(len(shape)):
        x = np.cumsum(x, axis=axis)
    return x * scale


def check_round_trip(values, half, missing=None):
    data, recon = interp.encode(values, half, missing)
    decoded = interp.decode(data, values.shape, half, missing)
    assert decoded.dtype == np.float64 and decoded.shape == values.shape
    assert np.array_equal(decoded.view(np.uint64), recon.view(np.uint64))  # bit for bit
    keep = np.ones(values.shape, bool) if missing is None else ~missing
    error = np.abs(decoded - values)[keep]
    assert error.max(initial=0) <= half * (1 + 1e-12), error.max()
    return data


shapes = st.lists(st.integers(1, 13), min_size=1, max_size=4).map(tuple)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, seed=st.integers(0, 2 ** 16), log_half=st.floats(-6, 2),
       nan_fraction=st.sampled_from([0.0, 0.1, 0.5, 0.95, 1.0]), rough=st.booleans())
def test_round_trip_within_half(shape, seed, log_half, nan_fraction, rough):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape) * 10 if rough else smooth(shape, seed)
    missing = rng.random(shape) < nan_fraction if nan_fraction else None
    check_round_trip(values, 10.0 ** log_half, missing)


@pytest.mark.parametrize("cubic", [False, True])
@pytest.mark.parametrize("bound_mode", range(len(interp.BOUND_MODES)))
@pytest.mark.parametrize("reverse", [False, True])
def test_every_setting_round_trips(cubic, bound_mode, reverse):
    values = smooth((23, 1, 30), seed=3)
    half = 0.01
    data, recon = interp.encode(values, half, cubic=cubic, bound_mode=bound_mode, reverse=reverse)
    assert (data[0] & 1, data[0] >> 1 & 3, data[0] >> 5) == (cubic, bound_mode, reverse)
    assert np.array_equal(interp.decode(data, values.shape, half), recon)
    assert np.abs(recon - values).max() <= half


def test_deterministic():
    values = smooth((40, 50), seed=1)
    missing = np.random.default_rng(1).random(values.shape) < 0.2
    first, recon = interp.encode(values, 0.05, missing)
    second, again = interp.encode(values.copy(), 0.05, missing.copy())
    assert first == second and np.array_equal(recon.view(np.uint64), again.view(np.uint64))
    a = interp.decode(first, values.shape, 0.05, missing)
    b = interp.decode(first, values.shape, 0.05, missing)
    assert np.array_equal(a.view(np.uint64), b.view(np.uint64))


def test_huge_residuals_take_the_escape_path():
    values = smooth((20, 20), seed=2)
    values[3, 5], values[10, 11], values[0, 0] = 1e12, -3e11, 7e9
    data = check_round_trip(values, 1e-3)
    assert data[1] >= 3  # the anchor and at least the two spikes are escaped


def test_unboundable_values_decode_to_their_prediction_and_spare_their_neighbours():
    values = np.linspace(0, 1, 50)
    values[[7, 20, 30, 40]] = [np.nan, np.inf, -np.inf, 1e300]
    data, recon = interp.encode(values, 1e-3)
    assert np.array_equal(interp.decode(data, values.shape, 1e-3), recon) and np.isfinite(recon).all()
    fine = np.ones(values.shape, bool)
    fine[[7, 20, 30, 40]] = False
    assert np.abs(recon - values)[fine].max() <= 1e-3  # the caller stores the four exactly


@pytest.mark.parametrize("shape", [(), (1,), (2,), (3,), (1, 1), (1, 7), (2, 1, 3), (1, 1, 1, 5)])
def test_tiny_arrays(shape):
    values = np.asarray(np.random.default_rng(0).normal(size=shape))
    check_round_trip(values, 1e-4)


def test_constant_and_empty():
    assert len(check_round_trip(np.full((37, 49), 273.15), 0.01)) <= 12
    data, recon = interp.encode(np.zeros((0, 4)), 0.1)
    assert recon.shape == (0, 4) and interp.decode(data, (0, 4), 0.1).shape == (0, 4)
    everything = np.ones((6, 7), bool)
    data, recon = interp.encode(np.zeros((6, 7)), 0.1, everything)
    assert len(data) <= 2 and interp.decode(data, (6, 7), 0.1, everything).shape == (6, 7)


def test_smooth_data_compresses_far_below_an_iid_coder():
    y, x = np.mgrid[:100, :100]
    values = 5 * np.sin(x / 7.0) * np.cos(y / 11.0) + 0.01 * x
    half = 1e-3
    data = check_round_trip(values, half)
    q = np.rint(values / (2 * half)).astype(np.int64)
    _, counts = np.unique(q, return_counts=True)
    iid_bits = -(counts * np.log2(counts / q.size)).sum()  # the ideal i.i.d. coder
    assert 8 * len(data) < 0.25 * iid_bits


def test_cost_model_matches_real_bytes():
    values = smooth((64, 64), seed=5, scale=0.01)
    run, symbols = sweep.run(values, 1e-3, None, (True, 1, False))
    estimate = tables.plan([s.level for s in run.steps], symbols)[3]
    assert abs(8 * len(stream.write(run, symbols)) - estimate) < 0.03 * estimate + 64


@pytest.mark.parametrize("reverse", [False, True])
def test_batched_trials_are_the_single_sweeps(reverse):
    """The encoder keeps a trial's run: each setting's slice of a batch must be its own sweep,
    bit for bit (and the bytes written from it the same), and its estimate near the planner's."""
    values = smooth((13, 1, 18), seed=7)
    values[4, 0, 5] = 1e9  # an escape
    missing = np.random.default_rng(7).random(values.shape) < 0.2
    options = [(c, m) for c in (True, False) for m in range(len(interp.BOUND_MODES))]
    batch = trials.Batch(values, 0.01, missing, options, reverse)
    estimates = batch.bits()
    for i, option in enumerate(batch.options):
        alone, symbols = sweep.run(values, 0.01, missing, option + (reverse,))
        together, taken = batch.take(i)
        assert np.array_equal(alone.recon.view(np.uint64), together.recon.view(np.uint64))
        assert alone.anchor_q == together.anchor_q
        for (q, bucket), (q2, bucket2) in zip(symbols, taken):
            assert np.array_equal(q, q2) and np.array_equal(bucket, bucket2)
        assert stream.write(alone, symbols) == stream.write(together, taken)
        planned = tables.plan([s.level for s in alone.steps], symbols, shapes=(0,))[3]
        assert abs(estimates[i] - planned) < 0.05 * planned + 64


def test_truncated_and_corrupted_bytes_raise_container_error():
    values = smooth((30, 31), seed=6)
    half = 0.01
    data, _ = interp.encode(values, half)
    with pytest.raises(ContainerError):
        interp.decode(b"", values.shape, half)
    with pytest.raises(ContainerError):
        interp.decode(bytes([0xE0]) + data[1:], values.shape, half)  # unknown flags
    with pytest.raises(ContainerError):
        interp.decode(data[:1] + b"\xff\xff\xff\xff\x7f" + data[2:], values.shape, half)
    rng = np.random.default_rng(0)
    for cut in range(len(data)):  # truncation: an error, or (the stream's tail) some values
        try:
            out = interp.decode(data[:cut], values.shape, half)
        except ContainerError:
            continue
        assert out.shape == values.shape
    for _ in range(200):  # random damage: an error or values, never a hang or a crash
        damaged = bytearray(data)
        for i in rng.integers(0, len(data), 3):
            damaged[i] = rng.integers(0, 256)
        try:
            out = interp.decode(bytes(damaged), values.shape, half)
        except ContainerError:
            continue
        assert out.shape == values.shape


def test_bad_arguments():
    with pytest.raises(ValueError):
        interp.encode(np.zeros(3), 0.0)
    with pytest.raises(ValueError):
        interp.encode(np.zeros(3), 0.1, np.zeros(4, bool))


def unlike_stack(count=3, shape=(40, 50)):
    """Fields of their own offsets and scales stacked (geopotential on pressure levels)."""
    return np.stack([smooth(shape, seed=i) * (1 + 2 * i) + 1e4 * i for i in range(count)])


@pytest.mark.parametrize("shape,batch_axes", [((3, 20, 30), 1), ((4, 3, 9, 11), 2), ((4, 3, 9, 11), 3),
                                         ((20, 3), 2), ((5, 1, 7), 1)])
def test_batch_axes_round_trip_bit_for_bit(shape, batch_axes):
    values = smooth(shape, seed=2)
    missing = np.random.default_rng(2).random(shape) < 0.2
    missing.flat[0] = True  # a missing anchor
    for m in (None, missing):
        data, recon = interp.encode(values, 0.05, m, batch_axes=batch_axes)
        assert data[0] >> 6 == 1 and data[1] == batch_axes
        decoded = interp.decode(data, shape, 0.05, m)
        assert np.array_equal(decoded.view(np.uint64), recon.view(np.uint64))
        keep = np.ones(shape, bool) if m is None else ~m
        assert np.abs(decoded - values)[keep].max() <= 0.05 * (1 + 1e-12)


def test_unlike_slices_are_coded_as_a_batch_like_slices_are_not():
    stack = unlike_stack()
    half = 0.01 * np.ptp(stack)
    data, _ = interp.encode(stack, half)
    assert data[0] >> 6 == 1 and data[1] == 1  # the stack's axis
    across, _ = interp.encode(stack, half, batch_axes=0)
    alone = sum(len(interp.encode(field, half)[0]) for field in stack)
    assert len(data) <= 1.1 * alone < 0.5 * len(across)
    alike = smooth((6, 40, 50), seed=4)  # smooth along every axis: prediction along 0 pays
    assert sweep.anchors_of(alike.shape, 0) == (0, 0, 0)
    assert interp.unlike_axes(alike, None) == []
    assert interp.encode(alike, 0.01)[0][0] >> 6 == 0


def test_unlike_axes_leave_one_axis_to_predict_along():
    from inrcodec.coding.batch import candidates

    assert interp.unlike_axes(unlike_stack(), None) == [0]
    both = unlike_stack()[:, :, :2] * np.array([1.0, 1e6])  # axes 0 and 2 unlike; 1 smooth
    assert interp.unlike_axes(both, None) == [2, 0]  # the most unlike first
    assert candidates([2, 0]) == [4, 5]
    assert interp.unlike_axes(np.arange(12.0).reshape(3, 4) * [[1], [1e3], [1e6]], None) == [0]


def test_a_damaged_batch_byte_is_refused():
    stack = unlike_stack()
    data, _ = interp.encode(stack, 1.0, batch_axes=1)
    for axes in (0, 8, 255):
        with pytest.raises(ContainerError, match="batch axes"):
            interp.decode(data[:1] + bytes([axes]) + data[2:], stack.shape, 1.0)
    with pytest.raises(ContainerError, match="unknown flags"):
        interp.decode(bytes([data[0] | 128]) + data[1:], stack.shape, 1.0)


def test_a_batch_axis_past_the_fourth_round_trips():
    """The interpolation section's byte of batch axes holds up to seven: a 5-D chunk stacking
    unlike fields along its last axis is coded as a batch along it."""
    fields = [smooth((3, 4, 9, 10), seed=i) * (1 + i) + 1e4 * i for i in range(6)]
    values = np.stack(fields, axis=-1)  # (3, 4, 9, 10, 6)
    data, recon = interp.encode(values, 0.5)
    assert data[0] >> 6 & 1 and data[1] >> 4 & 1
    assert np.array_equal(interp.decode(data, values.shape, 0.5), recon)
    assert np.abs(recon - values).max() <= 0.5


@pytest.mark.parametrize("shape, masked, unlike", [((37, 49), False, False), ((12, 37, 49), False, False),
                                                   ((300, 250), True, False), ((4, 30, 40), False, True)])
def test_a_search_stopped_after_its_first_sweep_goes_on_to_the_whole_search(shape, masked, unlike):
    """Small (every setting in one sweep) and large blocks, a chunk larger than its block with
    missing points: the first sweep's bits are never below the whole search's, its plan is not
    to be reused (no settings), and ``rest`` gives the whole search's plan and bytes. A stack
    whose slices are unlike is searched whole at once (its batch axes took 6,169 bits down to
    333 here)."""
    values = smooth(shape, seed=3)
    if unlike:
        values += 1000.0 * np.arange(shape[0])[:, None, None] ** 2
    missing = None
    if masked:
        missing = np.zeros(shape, bool)
        missing[:, :60] = True
    half = 0.01 * float(np.ptp(values))
    whole = interp.plan(values, half, missing)
    first = interp.plan(values, half, missing, first_sweep=True)
    assert whole.rest is None and whole.settings is not None
    if unlike:  # batch axes to search: searched whole at once
        assert (first.bits, first.settings, first.rest) == (whole.bits, whole.settings, None)
        return
    assert first.settings is None and first.bits >= whole.bits
    rest = first.rest()
    assert (rest.bits, rest.settings, rest.extrapolated, rest.rest) == (whole.bits, whole.settings,
                                                                        whole.extrapolated, None)
    assert rest.finish()[0] == whole.finish()[0] == interp.encode(values, half, missing)[0]
    fixed = interp.plan(values, half, missing, cubic=True, first_sweep=True)
    assert fixed.rest is None and fixed.settings is not None  # a setting given: searched whole
