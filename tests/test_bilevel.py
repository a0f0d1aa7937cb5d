import numpy as np
import pytest
from test_modes import power_law_field

from inrcodec.coding import bilevel
from inrcodec.coding.bytes import ContainerError
from inrcodec.coding.mask import encode_mask


def disc(shape, radius):
    grids = np.meshgrid(*[np.arange(n) - n / 2 for n in shape], indexing="ij")
    return sum(g ** 2 for g in grids) <= radius ** 2


@pytest.mark.parametrize("shape", [(1,), (2,), (3,), (17,), (1, 1), (2, 3), (5, 1, 7), (19, 33),
                                   (1, 24, 48, 64), (9, 1, 10, 3), (64, 64)])
@pytest.mark.parametrize("density", [0.02, 0.5, 0.97])
def test_any_bits_of_any_shape_come_back(shape, density):
    rng = np.random.default_rng(sum(shape))
    bits = rng.random(shape) < density
    assert np.array_equal(bilevel.decode(bilevel.encode(bits), shape), bits)


@pytest.mark.parametrize("shape, most", [((90, 180), 0.5), ((12, 30, 33), 0.75),
                                         ((2, 16, 20, 24), 0.75)])
def test_regions_with_ragged_edges_take_fewer_bytes_than_zlib(shape, most):
    bits = power_law_field(shape, slope=4.0) > 0.25  # a land mask's kind of region
    data = bilevel.encode(bits)
    assert np.array_equal(bilevel.decode(data, shape), bits)
    assert len(data) < most * len(encode_mask(bits))


def test_coding_is_deterministic_and_uniform_arrays_are_nearly_free():
    bits = disc((50, 60), 20)
    assert bilevel.encode(bits) == bilevel.encode(bits.copy())
    assert len(bilevel.encode(np.ones((200, 300), bool))) <= 8
    assert len(bilevel.encode(np.zeros((200, 300), bool))) <= 8


def test_an_empty_array_is_no_bytes():
    assert bilevel.encode(np.zeros((0, 4), bool)) == b""
    assert bilevel.decode(b"", (0, 4)).shape == (0, 4)
    with pytest.raises(ContainerError):
        bilevel.decode(b"\x01", (0, 4))


def test_damaged_bytes_give_an_error_or_bits_of_the_right_shape_never_a_crash():
    # (The container's checksum refuses damaged chunks before any mask is decoded.)
    data = bytearray(bilevel.encode(disc((30, 40), 12)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        damaged = bytes(b ^ int(rng.integers(256)) if rng.random() < 0.3 else b for b in data)
        cut = damaged[: int(rng.integers(len(damaged) + 1))]
        try:
            out = bilevel.decode(cut, (30, 40))
        except ContainerError:
            continue
        assert out.shape == (30, 40) and out.dtype == bool


def test_a_mask_seen_before_is_decoded_once_and_never_shared_wrongly():
    """Chunks with one land mask decode it once (core._decoded_mask); a chunk with another
    mask of the same shape gets its own, and writing into a decoded chunk leaves the
    remembered mask alone."""
    from inrcodec import INRCodec, core

    rng = np.random.default_rng(3)
    land = np.zeros((40, 50), bool)
    land[5:20, 10:30] = True
    chunks = [np.where(land, np.nan, rng.normal(size=land.shape)).astype(np.float32) for _ in range(3)]
    other = chunks[0].copy()
    other[30:, :5] = np.nan
    codec = INRCodec(max_error=0.1)
    encoded = [codec.encode(c) for c in chunks + [other]]
    core._decoded_mask.cache_clear()
    decoded = [codec.decode(e) for e in encoded]
    assert core._decoded_mask.cache_info().hits == 2  # the three chunks' mask, read once
    for chunk, out in zip(chunks + [other], decoded):
        assert np.array_equal(np.isnan(out), np.isnan(chunk))
    decoded[0][...] = 0.0
    assert np.array_equal(np.isnan(codec.decode(encoded[1])), land)
