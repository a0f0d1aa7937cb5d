"""Stacked chunks (issue 31): a chunk that stacks unlike fields (levels, variables, an anomaly
beside its field) costs about what its slices cost each alone, and no more than SZ3 on the same
chunk, within the same bound; at a PSNR floor it keeps the floor at about its slices' cost.

The chunks are ``inrcodec.bench.stacked.stacked_chunks()`` (real data from pip packages; a chunk
whose data is not installed is skipped). A chunk's slices are its 2-D fields (its last two
axes), each encoded alone with the same absolute bound, or the same RMS target, as the whole
chunk. ``ALIKE`` chunks are controls: their slices are alike, and prediction across them may
pay. They hold batch axes (coding/batch.py) to account: before the coders stopped predicting
across unlike slices, 18 of them failed (2-73x the slices' bits at 1% of the range).
"""

import functools

import numpy as np
import pytest

from inrcodec import INRCodec
from inrcodec.bench.stacked import NAMES, slices, stacked_chunks
from inrcodec.measure import psnr

SLACK = 1.25  # a stacked chunk may cost this much more than its slices alone
FRACTION = 0.01  # the bound, of the chunk's range
FLOOR = 40.0  # dB over the chunk's range


@functools.cache
def chunks() -> dict[str, np.ndarray]:
    return stacked_chunks()


def chunk(name: str) -> np.ndarray:
    if name not in chunks():
        pytest.skip(f"{name}: its data is not installed")
    return chunks()[name]


def chunk_bound(name: str) -> float:
    """FRACTION of the chunk's range, as ``relative_error`` makes it (float64)."""
    values = chunk(name).astype(np.float64)
    return FRACTION * float(values.max() - values.min())


def worst_error(original: np.ndarray, decoded: np.ndarray) -> float:
    return float(np.abs(decoded.astype(np.float64) - original.astype(np.float64)).max())


@functools.cache
def stacked_bytes(name: str) -> int:
    """The chunk's bytes within its bound (``max_error``), every value checked."""
    bound, x = chunk_bound(name), chunk(name)
    codec = INRCodec(max_error=bound)
    data = codec.encode(x)
    assert worst_error(x, codec.decode(data)) <= bound
    return len(data)


@functools.cache
def slices_bytes(name: str) -> int:
    """The bytes of the chunk's slices, each encoded alone within the chunk's bound, every value
    checked."""
    bound = chunk_bound(name)
    codec = INRCodec(max_error=bound)
    total = 0
    for field in slices(chunk(name)):
        data = codec.encode(field)
        assert worst_error(field, codec.decode(data)) <= bound
        total += len(data)
    return total


def bits(name: str, size: int) -> str:
    return f"{8 * size / chunk(name).size:.3f} bits/value"


@pytest.mark.parametrize("setting", ["max_error", "relative_error"])
@pytest.mark.parametrize("name", NAMES)
def test_a_stacked_chunk_within_a_bound_costs_about_its_slices_alone(name, setting):
    x, bound = chunk(name), chunk_bound(name)
    if setting == "max_error":
        stacked = stacked_bytes(name)
    else:
        codec = INRCodec(relative_error=FRACTION)
        data = codec.encode(x)
        assert worst_error(x, codec.decode(data)) <= bound
        stacked = len(data)
    alone = slices_bytes(name)
    assert stacked <= SLACK * alone, (
        f"{name} {x.shape} within {bound:.4g} ({setting}): stacked {bits(name, stacked)}, its "
        f"slices alone {bits(name, alone)}: {stacked / alone:.2f} x")


@pytest.mark.parametrize("name", NAMES)
def test_a_stacked_chunk_within_a_bound_costs_no_more_than_sz3(name):
    pysz = pytest.importorskip("pysz")
    x, bound = chunk(name), chunk_bound(name)
    config = pysz.szConfig()
    config.errorBoundMode = pysz.szErrorBoundMode.ABS
    config.absErrorBound = bound
    sz3 = len(pysz.sz.compress(np.ascontiguousarray(x), config)[0].tobytes())
    stacked = stacked_bytes(name)
    assert stacked <= sz3, (f"{name} {x.shape} within {bound:.4g}: ours {bits(name, stacked)}, "
                            f"SZ3 {bits(name, sz3)}: {stacked / sz3:.2f} x")


@pytest.mark.parametrize("name", NAMES)
def test_a_stacked_chunk_keeps_its_psnr_floor_at_about_its_slices_cost(name):
    x = chunk(name)
    values = x.astype(np.float64)
    target = float(values.max() - values.min()) * 10 ** (-FLOOR / 20)  # the floor's RMS error
    codec = INRCodec(min_psnr=FLOOR)
    data = codec.encode(x)
    assert psnr(x, codec.decode(data)) >= FLOOR
    alone, each = 0, INRCodec(max_rmse=target)
    for field in slices(x):
        encoded = each.encode(field)
        error = each.decode(encoded).astype(np.float64) - field.astype(np.float64)
        assert np.sqrt(np.mean(error ** 2)) <= target
        alone += len(encoded)
    assert len(data) <= SLACK * alone, (
        f"{name} {x.shape} at {FLOOR:g} dB (RMS {target:.4g}): stacked {bits(name, len(data))}, "
        f"its slices alone {bits(name, alone)}: {len(data) / alone:.2f} x")
