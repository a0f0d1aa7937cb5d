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
    """The real chunk decodes; the same header claiming 8 times the fields, checksum
    recomputed, is refused by counting, not by decoding 8 times the patches."""
    data = INRCodec(min_psnr=None).encode(a1b[200:201])
    assert data[4] == 1  # the shape's first varint: one field
    forged = bytearray(data[:-4])
    forged[4] = 8  # (64 would be refused sooner, by its bytes: test_a_chunk_claiming_more...)
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


def _resealed(body: bytes, model_hash: str, kind) -> bytes:
    """``body`` with a valid checksum: what a buggy writer or a hostile store can produce."""
    from inrcodec.coding.layout import checksum

    return bytes(body) + checksum(bytes(body), model_hash, kind).to_bytes(4, "little")


def test_a_chunk_claiming_more_values_than_its_bytes_allow_is_refused_unread(monkeypatch):
    """Version 7 bounds a reader's work by what it was given: a SPATIAL chunk whose shape is
    forged to 4096 x 4096, checksum valid, is refused from its header; the real one decodes."""
    from inrcodec.coding import interp
    from inrcodec.coding.container import Container, Kind

    codec = INRCodec(max_error=0.5)
    field = np.random.default_rng(0).normal(size=(10, 12)).cumsum(0).astype("f4")
    data = codec.encode(field)
    c = Container.from_bytes(data, codec.model_hash)
    assert c.kind == Kind.SPATIAL and data[4:6] == bytes([10, 12]) and len(data) < 100
    forged = _resealed(data[:4] + bytes([0x80, 0x20, 0x80, 0x20]) + data[6:-4], codec.model_hash,
                       c.kind)
    monkeypatch.setattr(interp, "decode", lambda *a: pytest.fail("decoded a forged chunk"))
    with pytest.raises(ContainerError, match="claims 16777216 values in"):
        codec.decode(forged)


def test_a_chunk_too_compressible_for_the_rule_is_padded_and_decodes():
    from inrcodec.coding.container import VALUES_PER_BYTE, Container, Kind

    spike = np.zeros((2048, 2048), "f4")
    spike[100, 700] = 1.0
    codec = INRCodec(min_psnr=30)
    data = codec.encode(spike)
    assert data[3] >> 7 == 1 and spike.size / len(data) <= VALUES_PER_BYTE  # padded
    assert Container.from_bytes(data, codec.model_hash).kind == Kind.WAVELET
    decoded = codec.decode(data).reshape(spike.shape)
    assert np.sqrt(np.mean((decoded - spike) ** 2)) <= 10 ** (-30 / 20)


@pytest.mark.parametrize("damage", ["nonzero padding", "padding longer than the chunk",
                                    "padding flag in version 6"])
def test_damaged_padding_is_refused(damage):
    from inrcodec.coding.container import Container, Kind

    codec = INRCodec(max_error=0.5)
    field = np.random.default_rng(1).normal(size=(30, 40)).cumsum(1).astype("f4")
    body = bytearray(Container.from_bytes(codec.encode(field), codec.model_hash).to_bytes(
        codec.model_hash, at_least=400)[:-4])
    assert body[3] >> 7 == 1
    if damage == "nonzero padding":
        body[-6] = 1
    elif damage == "padding longer than the chunk":
        body[-4:] = (len(body) + 10).to_bytes(4, "little")
    else:
        body[0] = 0xC6
    with pytest.raises(ContainerError, match="padding|layout flags"):
        Container.from_bytes(_resealed(body, codec.model_hash, Kind.SPATIAL), codec.model_hash)


def test_a_masked_constant_is_held_to_its_bytes_too():
    """A constant with a NaN mask has a mask to decode: claiming 8192 x 8192 values from a few
    bytes is refused; a real one that dense is padded and decodes."""
    from inrcodec.coding.container import Container, Kind

    codec = INRCodec()
    small = np.ones((8, 10), "f4")
    small[2, 3] = np.nan
    data = codec.encode(small)
    assert Container.from_bytes(data, codec.model_hash).kind == Kind.CONSTANT
    assert data[4:6] == bytes([8, 10])
    forged = _resealed(data[:4] + bytes([0x80, 0x40, 0x80, 0x40]) + data[6:-4], codec.model_hash,
                       Kind.CONSTANT)
    with pytest.raises(ContainerError, match="claims 67108864 values"):
        codec.decode(forged)
    big = np.ones((2048, 2048), "f4")
    big[7, 9] = np.nan
    data = codec.encode(big)
    assert data[3] >> 7 == 1  # padded
    assert np.array_equal(np.isnan(codec.decode(data)), np.isnan(big))
