"""Checksum-valid chunks a hostile store or a buggy writer could hold (issue 32's reproducers):
each raises a ContainerError (a ValueError) quickly, whatever layer notices, and never decodes
a shape its bytes cannot cover."""

import time
import zlib

import numcodecs
import numpy as np
import pytest

from inrcodec import ContainerError, INRCodec

REPRODUCERS = {
    "constriction assertion": "c6610103bbbc003d59eabf3c8b6f8dc918633d2769aa",
    "overflow in the normalisation": "c661010301259b3a2ce2a9591b808e186b",
    "torch refuses the patches": "c6610103002531861aca0705186f34d5477424dd729d6c3c8b6f8dc918635402e8b6",
    "empty latents claiming 2048 x 2048": "c66103030180108010062e1eed39bfcb",
}


@pytest.fixture(scope="module")
def default_codec():
    return numcodecs.get_codec({"id": "inrcodec"})


@pytest.mark.parametrize("chunk", REPRODUCERS.values(), ids=REPRODUCERS.keys())
def test_a_damaged_chunk_is_a_container_error_within_a_second(default_codec, chunk):
    start = time.perf_counter()
    with pytest.raises(ContainerError):
        default_codec.decode(bytes.fromhex(chunk))
    assert time.perf_counter() - start < 1.0


def test_latents_too_short_for_their_shape_are_refused_before_decoding(default_codec, a1b):
    """The real chunk decodes; the same header claiming 64 times the fields, checksum
    recomputed, is refused by counting, not by decoding 64 times the patches."""
    data = INRCodec(min_psnr=None).encode(a1b[200:201])
    assert data[4] == 1  # the shape's first varint: one field
    forged = bytearray(data[:-4])
    forged[4] = 64
    body = bytes.fromhex(default_codec.model.hash) + bytes(forged)
    forged += zlib.crc32(body).to_bytes(4, "little")
    assert default_codec.decode(data).shape == (1, 37, 49)
    with pytest.raises(ContainerError, match="cannot hold"):
        default_codec.decode(bytes(forged))


@pytest.mark.parametrize("setting, value", [("max_error", np.float32(0.5)), ("max_error", np.int64(1)),
                                            ("min_psnr", np.float64(35.0)),
                                            ("pointwise_relative_error", np.float32(0.01))])
def test_numpy_scalars_are_settings(a1b, setting, value):
    codec = INRCodec(**{setting: value})
    assert codec.decode(codec.encode(a1b[200:201])).shape == (1, 37, 49)


@pytest.mark.parametrize("setting, value, words", [
    ("pointwise_relative_error", 5e-324, "resolution"), ("min_psnr", 1e6, "at most"),
    ("max_error", np.bool_(True), "positive number"), ("max_error", -0.0, "positive number"),
    ("max_error", 1e308, "at most"), ("max_rmse", 1e308, "at most")])
def test_impossible_settings_are_one_line_errors(setting, value, words):
    with pytest.raises(ValueError, match=words) as error:
        INRCodec(**{setting: value})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("settings", [{"max_error": 5e-324}, {"max_error": 1e-320},
                                      {"max_rmse": 5e-324}])
def test_a_bound_finer_than_float64_steps_keeps_its_promise_losslessly(settings):
    x = np.random.default_rng(0).normal(280, 1, (37, 49))
    x[0, :3] = np.nan
    codec = INRCodec(**settings)
    decoded = codec.decode(codec.encode(x))
    assert np.array_equal(decoded, x, equal_nan=True)
