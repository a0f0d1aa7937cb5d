"""Error-bounded mode: every finite value decodes within the bound, on any machine."""

import json
from pathlib import Path

import numcodecs
import numpy as np
import pytest

from inrcodec import INRCodec
from inrcodec.sections import bounds

FIXTURES = Path(__file__).parent / "fixtures" / "v1" / "latents"
SMALL_MODEL = numcodecs.get_codec(json.loads((FIXTURES / "codec.json").read_text())).model


def max_abs_error(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    finite = ~np.isnan(a)
    assert np.array_equal(finite, ~np.isnan(b))
    return np.abs(a[finite] - b[finite]).max(initial=0.0)


@pytest.mark.parametrize("bound", [0.02, 0.1, 0.5, 2.0])
def test_absolute_bound_holds_on_held_out_climate_fields(a1b, bound):
    codec = INRCodec(max_error=bound)
    chunk = a1b[192:196].copy()
    chunk[1, 5:9, 10:30] = np.nan
    assert max_abs_error(chunk, codec.decode(codec.encode(chunk))) <= bound


def test_looser_bounds_cost_fewer_bits(a1b):
    sizes = [len(INRCodec(max_error=b).encode(a1b[200:204])) for b in (0.05, 0.2, 1.0)]
    assert sizes[0] > sizes[1] > sizes[2]
    assert len(INRCodec(max_error=1.0).encode(a1b[200:204])) > len(INRCodec().encode(a1b[200:204]))


@pytest.mark.parametrize("name", ["i2", "u1", "f2", "f4_nans", "f8_fortran", "f4_big_endian"])
@pytest.mark.parametrize("bound", [0.3, 1.0, 2.5])
def test_bound_holds_for_every_dtype_and_order(name, bound):
    chunk = np.load(FIXTURES / f"{name}.npy")
    codec = INRCodec(SMALL_MODEL, max_error=bound)
    decoded = codec.decode(codec.encode(chunk))
    assert decoded.dtype == chunk.dtype and decoded.flags.f_contiguous == chunk.flags.f_contiguous
    assert max_abs_error(chunk, decoded) <= bound
    if chunk.dtype.kind in "iu" and bound < 1:
        assert np.array_equal(decoded, chunk)  # integers within less than 1: lossless


def test_relative_bound_is_a_fraction_of_the_chunk_range(a1b):
    chunk = a1b[210:211]
    decoded = INRCodec(relative_error=0.01).decode(INRCodec(relative_error=0.01).encode(chunk))
    assert max_abs_error(chunk, decoded) <= 0.01 * np.ptp(chunk)


def test_bound_survives_a_decoder_that_predicts_slightly_differently(a1b, monkeypatch):
    """Another machine's float64 network may differ in its last bits: the slack absorbs it."""
    codec = INRCodec(max_error=0.05)
    chunk = a1b[220:224]
    data = codec.encode(chunk)
    prediction_of = bounds.prediction_of
    calls = []

    def perturbed(*args, **kwargs):
        calls.append(1)
        values = prediction_of(*args, **kwargs)
        noise = np.random.default_rng(0).uniform(-1, 1, values.shape)
        return values + noise * 1e-10 * np.abs(values).max()

    monkeypatch.setattr(bounds, "prediction_of", perturbed)
    assert max_abs_error(chunk, codec.decode(data)) <= 0.05
    assert calls, "the chunk was not decoded through the network's prediction"


def test_bound_settings_are_validated_and_travel_in_the_config(a1b):
    codec = INRCodec(max_error=0.25)
    config = codec.get_config()
    assert config["max_error"] == 0.25 and "relative_error" not in config
    assert numcodecs.get_codec(json.loads(json.dumps(config))) == codec
    assert "max_error" not in INRCodec().get_config()
    for bad in (0, -1.0, float("nan"), float("inf"), "0.1"):
        with pytest.raises(ValueError, match="positive number"):
            INRCodec(max_error=bad)
    with pytest.raises(ValueError, match="one of"):
        INRCodec(max_error=0.1, relative_error=0.1)
    below_resolution = a1b[200:201].astype("f2")  # float16's spacing at 256 K is 0.25 K
    data = INRCodec(max_error=1e-3).encode(below_resolution)
    assert len(data) <= below_resolution.nbytes + 16  # stored exactly: no bigger than raw
    assert np.array_equal(INRCodec().decode(data), below_resolution)


def test_bounded_encoding_is_deterministic_across_threads(a1b):
    from concurrent.futures import ThreadPoolExecutor

    codec = INRCodec(max_error=0.1)
    chunks = [a1b[i:i + 1] for i in range(200, 208)]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(codec.encode, chunks))
    assert parallel == [codec.encode(c) for c in chunks]



def test_the_networks_residual_is_searched_in_one_trial_sweep(a1b, monkeypatch):
    """A BOUNDED_SPATIAL residual larger than a small trial block is planned with uniform level
    steps in the first axis order (spatial.RESIDUAL_SEARCH): one trial sweep of both
    interpolants, where the whole search of a 12-field chunk takes three; the settings it finds
    are those a bound search reuses. A one-field residual is searched whole (two sweeps)."""
    from inrcodec.chunk import Chunk
    from inrcodec.coding import interp
    from inrcodec.sections import spatial

    batch, sweeps = interp.Batch, []
    monkeypatch.setattr(interp, "Batch", lambda *a: sweeps.append(a[3]) or batch(*a))
    values = a1b[192:204]
    finite = np.ones(values.shape, bool)
    noise = np.random.default_rng(0).normal(0, 0.3, values.shape)  # a residual of noise
    prediction = values.astype(np.float64) + noise
    norm = Chunk(values, finite, {}).norm
    planned = spatial.plan_residual(values, finite, prediction, 0.4, norm)
    assert sweeps == [[(True, 0), (False, 0)]]
    assert (planned.settings["bound_mode"], planned.settings["reverse"]) == (0, False)
    sweeps.clear()
    interp.plan(noise, 0.39)
    assert len(sweeps) == 3  # the whole search: both interpolants, the other modes, the other order
    sweeps.clear()
    spatial.plan_residual(values[:1], finite[:1], prediction[:1], 0.4, norm)
    assert len(sweeps) == 2 and len(sweeps[0]) == 8  # every setting at once, then the other order
