import json
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numcodecs
import numpy as np
import pytest

from inrcodec import ContainerError, INRCodec, ModelError, ModelMismatchError
from inrcodec.store import chunk_kind

# The tests of the network's path encode with plain latents (no PSNR floor), so that their
# error thresholds measure the network's fit and nothing else stores the chunk in its place:
# under the default 40 dB floor a chunk the network fits badly is stored another way (such as
# WAVELET), and a threshold looser than the floor's error cannot fail. Each such test asserts
# the kind it means to test.


@pytest.fixture(scope="module")
def network_codec():
    return INRCodec(min_psnr=None)  # the bundled default model, plain latents


def round_trip(codec, chunk, kind: str | None = None):
    data = codec.encode(chunk)
    if kind is not None:
        assert chunk_kind(data) == kind
    decoded = codec.decode(data)
    assert decoded.dtype == chunk.dtype and decoded.shape == chunk.shape
    return decoded


def rel_rmse(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.sqrt(np.nanmean((a - b) ** 2)) / np.nanstd(a)


@pytest.mark.parametrize("dtype", ["<f2", "<f4", "<f8", ">f4", ">f8"])
def test_float_types_round_trip(network_codec, a1b, dtype):
    chunk = a1b[200:201].astype(dtype)
    assert rel_rmse(chunk, round_trip(network_codec, chunk, "LATENTS")) < 0.05


@pytest.mark.parametrize("dtype", ["u1", "i1", "u2", "i2", "i4", "u4", "i8", "u8"])
def test_integers_are_rounded_and_clipped_to_their_type(network_codec, a1b, dtype):
    info = np.iinfo(dtype)
    field = a1b[200:201]
    lo, hi = max(info.min, -1000), min(info.max, 1000)
    chunk = np.rint(lo + (field - field.min()) / np.ptp(field) * (hi - lo)).astype(dtype)
    decoded = round_trip(network_codec, chunk, "LATENTS")
    assert rel_rmse(chunk, decoded) < 0.05
    # Clipped to the type (u1 and i1 span it), never wrapped around: a wrap errs by 2**bits.
    error = np.abs(decoded.astype(np.int64) - chunk.astype(np.int64)).max()
    assert error < 0.1 * (hi - lo)


def held_out_mosaic(a1b, shape):
    """A chunk of ``shape`` cut from a mosaic of held-out fields, one field per 37 x 49 tile."""
    lead, (rows, cols) = shape[:-2], shape[-2:]
    count = int(np.prod(lead, dtype=int))
    tiles = a1b[192:240]
    mosaics = [np.block([[tiles[(i + 2 * r + c) % 48] for c in range(2)] for r in range(2)])
               for i in range(count)]
    return np.stack(mosaics)[:, :rows, :cols].reshape(shape)


# Chunks aligned with the model's 37 x 49 patches fit well; a chunk that cuts patches leaves
# partial patches, padded at the edges, which fit worse (inrcodec.xarray aligns chunks for that
# reason). Plain latents, so that the padded patches are the network's (under the default floor
# the wavelet coder stores the unaligned ones). Chunks too small to tile are stored otherwise.
@pytest.mark.parametrize("shape, kind, max_rel_rmse", [
    ((37, 49), "LATENTS", 0.05), ((3, 37, 49), "LATENTS", 0.05), ((74, 98), "LATENTS", 0.05),
    ((50, 60), "LATENTS", 0.3), ((2, 2, 20, 70), "LATENTS", 1.0), ((40, 2), "LATENTS", 0.5),
    ((1, 1), "CONSTANT", None), ((5, 1, 3), "RAW", None)])
def test_shapes_and_edge_padding(network_codec, a1b, shape, kind, max_rel_rmse):
    chunk = held_out_mosaic(a1b, shape)
    decoded = round_trip(network_codec, chunk, kind)
    if max_rel_rmse is None:  # stored exactly
        assert np.array_equal(decoded, chunk)
    else:
        assert rel_rmse(chunk, decoded) < max_rel_rmse


def test_the_default_floor_stores_partial_patches_as_it_promises(codec, a1b):
    """Under the default 40 dB floor the same unaligned chunks keep the floor, whichever kind."""
    from inrcodec.measure import psnr

    for shape in [(50, 60), (2, 2, 20, 70), (40, 2)]:
        chunk = held_out_mosaic(a1b, shape)
        assert psnr(chunk, round_trip(codec, chunk)) >= 40


def test_one_dimensional_chunk_needs_a_one_dimensional_model(codec):
    with pytest.raises(ValueError, match="2-D patches"):
        codec.encode(np.arange(100, dtype="f4"))


def test_memory_order_is_kept(network_codec, a1b):
    chunk = np.asfortranarray(a1b[200:203])
    decoded = round_trip(network_codec, chunk, "LATENTS")
    assert decoded.flags.f_contiguous and not decoded.flags.c_contiguous
    assert rel_rmse(chunk, decoded) < 0.05


def test_non_contiguous_view_encodes_as_its_values(codec, a1b):
    view = a1b[200:202, ::2, ::-1]
    assert np.array_equal(codec.decode(codec.encode(view)),
                          codec.decode(codec.encode(np.ascontiguousarray(view))))


def test_nans_are_restored_exactly_and_ignored_by_the_fit(network_codec, a1b):
    chunk = a1b[200:201].copy()
    chunk[0, 10:20, 5:30] = np.nan
    chunk[0, 0, :] = np.nan
    decoded = round_trip(network_codec, chunk, "LATENTS")
    assert np.array_equal(np.isnan(decoded), np.isnan(chunk))
    assert rel_rmse(chunk, decoded) < 0.05


def test_constant_all_nan_tiny_and_empty_chunks(codec):
    for chunk in [np.zeros((0, 4), "f4"), np.zeros((3, 0), "u2"),
                  np.full((37, 49), 273.15, "f4"), np.full((4, 4), 7, "i2"),
                  np.array([[1.5]], "f8"), np.full((2, 3), np.nan, "f4")]:
        assert np.array_equal(round_trip(codec, chunk), chunk, equal_nan=True)
    chunk = np.full((6, 6), 3.25, "f4")
    chunk[0, 0] = np.nan
    assert np.array_equal(round_trip(codec, chunk), chunk, equal_nan=True)


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((4, 4), complex), TypeError, "complex"),
    (np.array([["a"]]), TypeError, "<U1"),
    (np.zeros((2, 2), object), TypeError, "object"),
    (np.zeros((2, 2), bool), TypeError, "bool"),
    (np.ma.masked_array(np.zeros((2, 2)), mask=True), TypeError, "masked"),
    (np.array([[1.0, np.inf]]), ValueError, "Inf"),
])
def test_bad_input_is_refused_clearly(codec, bad, error, message):
    with pytest.raises(error, match=message):
        codec.encode(bad)


def test_encoding_is_deterministic_and_thread_safe(network_codec, a1b):
    codec = network_codec  # the network's fits are what threads could disturb
    chunks = [a1b[i:i + 1] for i in range(192, 208)]
    serial = [codec.encode(c) for c in chunks]
    assert {chunk_kind(data) for data in serial} == {"LATENTS"}
    assert serial == [codec.encode(c) for c in chunks]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(codec.encode, chunks)) == serial
        decoded = list(pool.map(codec.decode, serial))
    assert all(np.array_equal(d, codec.decode(s)) for d, s in zip(decoded, serial))


def test_config_is_json_and_round_trips(codec):
    config = codec.get_config()
    assert json.loads(json.dumps(config)) == config
    again = numcodecs.get_codec(config)
    assert again == codec and again.get_config() == config
    assert pickle.loads(pickle.dumps(codec)) == codec
    assert len(repr(codec)) < 160


def test_codec_is_found_in_a_fresh_process_from_its_config(codec, a1b, tmp_path):
    data = codec.encode(a1b[200:201])
    (tmp_path / "config.json").write_text(json.dumps(codec.get_config()))
    (tmp_path / "chunk.bin").write_bytes(data)
    script = (
        "import json, sys, numcodecs, numpy as np\n"
        f"d = '{tmp_path}'\n"
        "codec = numcodecs.get_codec(json.load(open(d + '/config.json')))\n"
        "np.save(d + '/out.npy', codec.decode(open(d + '/chunk.bin', 'rb').read()))\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    assert np.array_equal(np.load(tmp_path / "out.npy"), codec.decode(data))


def test_settings_are_validated(codec):
    with pytest.raises(ValueError, match="latent bits"):
        INRCodec(latent_bits=0)
    with pytest.raises(ValueError, match="inner_steps"):
        INRCodec(inner_steps=-1)
    with pytest.raises(ModelError, match="neither a bundled model"):
        INRCodec(model="no-such-model")
    with pytest.raises(ModelError, match="not the model"):
        INRCodec(model_hash="0" * 64)


def test_embedded_model_must_match_its_hash(codec, a1b):
    """A store's model is checked when first used (so that opening a dataset stays fast)."""
    chunk = codec.encode(a1b[200:201])
    config = INRCodec(embed_model=True).get_config()
    config["model_hash"] = "f" * 64
    with pytest.raises(ModelError, match="not the model"):
        numcodecs.get_codec(config).decode(chunk)
    config = INRCodec(embed_model=True).get_config()
    config["model_data"] = config["model_data"][:-40] + "A" * 40
    with pytest.raises(ModelError):
        numcodecs.get_codec(config).decode(chunk)


def test_chunk_from_another_model_or_garbage_is_refused(codec, a1b, tiny_model):
    other = INRCodec(tiny_model((37, 49)))
    data = codec.encode(a1b[200:201])
    with pytest.raises(ModelMismatchError):
        other.decode(data)
    with pytest.raises(ContainerError):
        codec.decode(data[:-1])
    with pytest.raises(ContainerError):
        codec.decode(b"")


def test_settings_change_size_and_quality(codec, a1b):
    chunk = a1b[192:200]
    results = {}
    for bits in (3, 7):
        c = INRCodec(latent_bits=bits, min_psnr=None)  # the network's own curve
        data = c.encode(chunk)
        results[bits] = (len(data), rel_rmse(chunk, c.decode(data)))
    assert results[7][0] > results[3][0] and results[7][1] < results[3][1]


def test_a_pickle_posing_as_a_model_is_refused_without_being_run(tmp_path):
    import torch

    class Boom:
        def __reduce__(self):
            return (exec, ("open('" + str(tmp_path / "ran") + "', 'w').close()",))

    torch.save({"payload": Boom()}, tmp_path / "evil.safetensors")
    with pytest.raises(ModelError, match="not an inrcodec model file"):
        INRCodec(str(tmp_path / "evil.safetensors"))
    assert not (tmp_path / "ran").exists()


def test_values_float64_cannot_resolve_are_refused_clearly(codec):
    with pytest.raises(ValueError, match="2\\*\\*53"):
        codec.encode((2 ** 62 + np.arange(64).reshape(8, 8) * 3).astype("i8"))
    with pytest.raises(ValueError, match="too large"):
        codec.encode(np.array([[1e308, -1e308], [0.0, 1.0]]))
    tiny_spread = np.full((37, 49), 1e100) * (1 + np.arange(37 * 49).reshape(37, 49) * 2e-16)
    assert codec.decode(codec.encode(tiny_spread)).shape == (37, 49)


@pytest.mark.parametrize("scale", [1e-170, 1e-300])
@pytest.mark.parametrize("settings", [{}, {"max_rmse": 1e-3}, {"min_psnr": 30.0}])
def test_a_field_of_tiny_values_keeps_its_floor(a1b, scale, settings):
    """float64 values under 1e-154: their errors' squares underflow, so a floor measured on
    them was kept by any reconstruction (A1B at 1e-160 came back at -16 dB, no warning). Errors
    are scaled by a power of two first (measure.square_shift); the data's units here."""
    field = a1b[200].astype(np.float64)
    settings = {k: v * np.ptp(field) * scale if k == "max_rmse" else v for k, v in settings.items()}
    codec = INRCodec(**settings)
    x = field * scale
    decoded = codec.decode(codec.encode(x))
    rmse = float(np.sqrt(np.mean((decoded / scale - field) ** 2)))
    if "max_rmse" in settings:
        assert rmse * scale <= settings["max_rmse"] * (1 + 1e-9)
    else:
        assert 20 * np.log10(np.ptp(field) / rmse) >= settings.get("min_psnr", 40.0) - 1e-6
    assert codec.mode.measure(x, decoded, 0, x.size)[1]


def test_a_psnr_floor_beside_a_bound_is_refused_not_dropped():
    with pytest.raises(ValueError, match="two promises"):
        INRCodec(max_error=2.0, min_psnr=60.0)
    assert "within 2" in INRCodec(max_error=2.0).mode.promise  # (the default floor: none asked)
