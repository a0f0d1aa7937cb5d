"""The linear base network (linear.py): EOFs learned in seconds, decoding exact by construction,
every mode on top of it, its model file, and learning an archive by default (learn.py)."""

import json
import math
import subprocess
import sys
import zlib

import numcodecs
import numpy as np
import pytest
import zarr

from helpers import linear_model_of, smooth_field
from inrcodec import INRCodec
from inrcodec.coding.container import Container, Kind
from inrcodec.linear import LinearModel, learn
from inrcodec.model import Model, ModelError


@pytest.fixture(scope="module")
def model(a1b):
    return linear_model_of(a1b[:192], 64)


def test_eofs_are_orthonormal_and_ordered(model):
    gram = model.basis @ model.basis.T
    assert np.abs(gram - np.eye(model.latent_dim)).max() < 1e-3
    assert np.all(np.diff(model.latent_std) <= 0) and model.latent_std[-1] > 0


def test_decoding_is_integer_arithmetic_whatever_the_order(model):
    rng = np.random.default_rng(0)
    symbols = rng.integers(-2 ** 15, 2 ** 15, (7, model.latent_dim))
    step = 0.0123
    exact = (symbols.astype(np.int64) @ model.table.astype(np.int64)).astype(np.float64)
    expected = exact * math.ldexp(step, -model.exponent) + model.mean.astype(np.float64)
    assert model.values(symbols, step).tobytes() == expected.tobytes()
    # Another order of the latents and of the patches: the same bits.
    order = rng.permutation(model.latent_dim)
    shuffled = LinearModel(model.patch_shape, model.mean, model.table[order], model.exponent,
                           model.latent_std[order])
    assert shuffled.values(symbols[:, order], step).tobytes() == expected.tobytes()
    assert model.values(symbols[::-1], step)[::-1].tobytes() == expected.tobytes()


@pytest.mark.parametrize("largest", [1, 24, 300, 2 ** 15])
def test_small_latents_are_multiplied_in_float32_exactly(model, largest):
    """Where every partial sum stays under 2^24 the product runs in float32: the same bits as
    the integers' (the largest symbols here put some rows past that, in float64)."""
    rng = np.random.default_rng(largest)
    symbols = rng.integers(-largest, largest + 1, (40, model.latent_dim))
    symbols[:, 8:] *= rng.random((40, model.latent_dim - 8)) < 0.3  # mostly zero past the first
    exact = (symbols.astype(np.int64) @ model.table.astype(np.int64)).astype(np.float64)
    expected = exact * math.ldexp(0.5, -model.exponent) + model.mean.astype(np.float64)
    for rows in (symbols, symbols[:1], symbols.astype(np.int32)):
        assert model.values(rows, 0.5).tobytes() == expected[:len(rows)].tobytes()


def test_the_projection_is_least_squares_in_the_decoder_s_basis(model, a1b):
    from inrcodec.patches import to_patches

    field = (a1b[200] - a1b[200].mean()) / a1b[200].std()
    target = to_patches(field[None].astype(np.float64), model.patch_shape)
    weight = np.ones_like(target)
    latents = model.project(target, weight)
    residual = target - model.mean - latents @ model.basis
    assert np.abs(residual @ model.basis.T).max() < 1e-3 * np.abs(target).max()
    # A patch with half its points missing still fits those it has.
    weight[:, ::2] = 0
    half = model.project(target, weight)
    assert np.sqrt(np.mean(((target - model.mean - half @ model.basis) * weight) ** 2)) < 0.1


@pytest.mark.parametrize("missing", [0.05, 0.45, 0.55, 0.95])
def test_a_partial_patch_is_the_regularised_least_squares_of_its_valid_points(model, a1b, missing):
    """Whether its products come from its valid points or from the whole patch's less its
    missing ones (the fewer), a partial patch's latents solve the same normal equations."""
    from inrcodec.linear import PRIOR_NOISE, _inverse_variance
    from inrcodec.patches import to_patches

    field = (a1b[100] - a1b[100].mean()) / a1b[100].std()
    target = to_patches(field[None].astype(np.float64), model.patch_shape)
    rng = np.random.default_rng(int(missing * 100))
    weight = (rng.random(target.shape) >= missing).astype(np.float64)
    latents = model.project(target, weight)
    prior = PRIOR_NOISE * np.diag(_inverse_variance(model.latent_std))
    for i in range(len(target)):
        w = weight[i] > 0
        b = model.basis[:, w]
        expected = np.linalg.solve(b @ b.T + prior, b @ (target[i, w] - model.mean[w]))
        assert np.allclose(latents[i], expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_partial_patches_solved_at_once_give_what_one_solve_each_gave(model, a1b):
    """The stacked solve is LAPACK's, patch by patch: bit for bit the latents (and so the
    bytes) of one solve per patch, with its products from either side, whether its normal
    matrices are made or kept from the last chunk with the same missing points."""
    from inrcodec.linear import PRIOR_NOISE, _inverse_variance
    from inrcodec.patches import to_patches

    field = (a1b[150] - a1b[150].mean()) / a1b[150].std()
    target = to_patches(field[None].astype(np.float64), model.patch_shape)
    weight = (np.random.default_rng(3).random(target.shape)
              >= np.linspace(0, 0.9, len(target))[:, None]).astype(np.float64)
    x = (target - model.mean) * weight
    prior = PRIOR_NOISE * np.diag(_inverse_variance(model.latent_std))
    expected = x @ model._whole_projection
    for i in np.flatnonzero(weight.min(-1) < 1):
        w = weight[i] > 0
        b = model.basis[:, ~w] if 2 * w.sum() > w.size else model.basis[:, w]
        gram = model._gram - b @ b.T if 2 * w.sum() > w.size else b @ b.T
        expected[i] = np.linalg.solve(gram + prior, model.basis @ x[i])
    assert model.project(target, weight).tobytes() == expected.tobytes()
    assert model.project(target, weight).tobytes() == expected.tobytes()  # (its matrices kept)


@pytest.mark.parametrize("settings", [
    dict(min_psnr=None, latent_bits=7), dict(max_error=0.1), dict(max_error=1e-4),
    dict(min_psnr=45), dict(max_rmse=0.05), dict(bits_per_value=0.3),
    dict(pointwise_relative_error=1e-3)], ids=lambda s: next(iter(s)))
def test_every_mode_keeps_its_promise_with_a_linear_model(model, a1b, settings):
    chunks = [a1b[192:204], a1b[230:231].copy()]
    chunks[1][0, 5:15, 10:30] = np.nan  # a masked corner: partial patches
    codec = INRCodec(model, **settings)
    for chunk in chunks:
        encoded = codec.encode(chunk)
        decoded = numcodecs.get_codec(codec.get_config()).decode(encoded)
        finite = np.isfinite(chunk)
        assert np.array_equal(np.isfinite(decoded), finite)
        error = np.abs(decoded[finite].astype(np.float64) - chunk[finite])
        if "max_error" in settings:
            assert error.max() <= settings["max_error"]
        if "min_psnr" in settings and settings["min_psnr"]:
            rms = math.sqrt(np.mean(error ** 2))
            assert 20 * math.log10(np.ptp(chunk[finite]) / rms) >= settings["min_psnr"] - 1e-9
        if "max_rmse" in settings:
            assert math.sqrt(np.mean(error ** 2)) <= settings["max_rmse"] * (1 + 1e-9)
        if "bits_per_value" in settings:
            assert 8 * len(encoded) <= settings["bits_per_value"] * chunk.size
        if "pointwise_relative_error" in settings:
            assert np.all(error <= settings["pointwise_relative_error"] * np.abs(chunk[finite]))


def test_plain_latents_match_the_bundled_siren_where_it_was_trained(model, a1b):
    """Held-out A1B: the EOFs of the SIREN's own training fields at 128 FLOPs a value decode
    as well as the SIREN (25,000), at no more bytes (docs/compare-models.md measures it)."""
    from inrcodec.measure import codec_round_trip

    chunks = [a1b[i:i + 12] for i in range(192, 240, 12)]
    linear = codec_round_trip(INRCodec(model, min_psnr=None, latent_bits=7), chunks)
    siren = codec_round_trip(INRCodec("default-2d", min_psnr=None, latent_bits=7), chunks)
    assert linear.psnr() > siren.psnr() - 0.3
    assert linear.stored_bytes < 1.05 * siren.stored_bytes


def test_a_budget_s_gates_drop_coefficients_where_all_do_not_fit(model, a1b):
    codec = INRCodec(model, bits_per_value=0.02)
    chunk = a1b[192:204]
    encoded = codec.encode(chunk)
    assert 8 * len(encoded) <= 0.02 * chunk.size
    c = Container.from_bytes(encoded, model.hash)
    assert c.kind == Kind.LATENTS
    decoded = codec.decode(encoded)
    assert np.isfinite(decoded).all() and np.sqrt(np.mean((decoded - chunk) ** 2)) < 2.0


def test_model_file_round_trip_and_hash(model, tmp_path):
    path = tmp_path / "linear.safetensors"
    model.save(path)
    loaded = Model.load(path)
    assert isinstance(loaded, LinearModel) and loaded.hash == model.hash
    assert np.array_equal(loaded.table, model.table)
    assert Model.from_compressed(zlib.compress(model.to_bytes())).hash == model.hash
    described = LinearModel(model.patch_shape, model.mean, model.table, model.exponent,
                            model.latent_std, {"name": "another description"})
    assert described.hash == model.hash  # the card describes; it decodes nothing


def test_damaged_model_files_are_refused_in_a_line(model):
    import safetensors.numpy

    def file(tensors, **header):
        meta = {"format": "inrcodec-model/3", "patch_shape": list(model.patch_shape),
                "exponent": model.exponent, **header}
        return safetensors.numpy.save(tensors, metadata={"inrcodec": json.dumps(meta)})

    good = {"mean": model.mean, "table": model.table, "latent_std": model.latent_std}
    Model.from_bytes(file(good))
    bad = [file({**good, "table": model.table.astype(np.float32)}),
           file({**good, "mean": model.mean[:-1]}),
           file({k: v for k, v in good.items() if k != "latent_std"}),
           file({**good, "extra": model.mean}),
           file(good, exponent=99),
           file(good, patch_shape=[7, 7]),
           file({**good, "latent_std": -model.latent_std}),
           file(good, hash="0" * 64)]
    for data in bad:
        with pytest.raises(ModelError):
            Model.from_bytes(data)


@pytest.mark.parametrize("bundled", [False, True], ids=["embedded", "bundled (the default)"])
def test_decoding_a_linear_chunk_imports_no_torch(model, a1b, tmp_path, bundled):
    codec = INRCodec(max_error=0.1) if bundled else INRCodec(model, max_error=0.1)
    assert "model_data" not in codec.get_config() if bundled else "model_data" in codec.get_config()
    chunk = a1b[200:212]
    (tmp_path / "chunk.bin").write_bytes(codec.encode(chunk))
    (tmp_path / "config.json").write_text(json.dumps(codec.get_config()))
    np.save(tmp_path / "expected.npy", codec.decode(codec.encode(chunk)))
    script = f"""
import json, sys, numpy, numcodecs
codec = numcodecs.get_codec(json.load(open({str(tmp_path / 'config.json')!r})))
decoded = codec.decode(open({str(tmp_path / 'chunk.bin')!r}, 'rb').read())
assert decoded.tobytes() == numpy.load({str(tmp_path / 'expected.npy')!r}).tobytes()
assert 'torch' not in sys.modules, 'torch imported'
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_encoding_with_a_linear_model_and_the_cli_s_start_import_no_torch(a1b, tmp_path):
    """A worker compressing with a linear model, or the client of ``inrcodec compress``, never
    loads torch (3-4 s and hundreds of MB a process); torch loaded later keeps the worker's
    thread limit."""
    np.save(tmp_path / "fields.npy", a1b[200:212])
    script = f"""
import sys, numpy
from inrcodec import INRCodec
from inrcodec.cli import main
from inrcodec.distributed import _limit_torch_threads
fields = numpy.load({str(tmp_path / 'fields.npy')!r})
for settings in ({{}}, {{"max_error": 0.4}}, {{"relative_error": 0.01}}, {{"min_psnr": None}},
                 {{"max_rmse": 0.05}}, {{"pointwise_relative_error": 0.01}}):
    for chunk in (fields, fields[:2, :18]):  # whole patches, and fields under a patch
        INRCodec(**settings).encode(numpy.ascontiguousarray(chunk))
main(["info", {str(tmp_path)!r}])  # builds every command's parser, then refuses the folder
assert 'torch' not in sys.modules, 'torch imported'
_limit_torch_threads(1)
import torch
assert torch.get_num_threads() == 1
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_learning_needs_enough_whole_patches():
    few = np.stack([smooth_field((8, 8), seed).reshape(-1) for seed in range(1)])
    with pytest.raises(ValueError, match="too few"):
        learn(few, np.ones_like(few), (8, 8), 4)
    nans = np.ones((10, 64))
    nans[:, 0] = 0
    with pytest.raises(ValueError, match="too few"):
        learn(nans, nans, (8, 8), 4)


def _archive(fields: int, seed: int, patterns: int = 3, noise: float = 0.0) -> np.ndarray:
    """Fields that are changing mixtures of a few fixed patterns: what an archive of one model's
    runs looks like to its EOFs (and what no bundled model has seen)."""
    rng = np.random.default_rng(seed)
    shape = (37, 49)
    basis = np.stack([smooth_field(shape, 100 + i) - 280 for i in range(patterns)])
    weights = rng.normal(size=(fields, patterns)) * [8, 3, 1][:patterns]
    out = 280 + np.einsum("tp,pij->tij", weights, basis)
    return (out + noise * rng.normal(size=out.shape)).astype(np.float32)


def _dataset(values: np.ndarray):
    import xarray as xr

    return xr.Dataset({"t": (("time", "y", "x"), values)}, coords={"time": np.arange(len(values))})


@pytest.mark.slow  # a minute here: 600 fields, two stores written
def test_an_archive_with_something_to_learn_is_learned_and_its_store_is_smaller(tmp_path):
    from inrcodec.learn import learn_archive
    from inrcodec.model import resolve
    from inrcodec.store import store_size
    from inrcodec.xarray import encoding_for

    start, chunks, settings = resolve("linear-2d"), (15, 37, 49), {"min_psnr": 60}
    archive = _dataset(_archive(600, 0))
    learned = learn_archive(archive, "t", start, chunks, settings)
    assert learned.kept, learned.reason
    assert learned.projected["learned"] < learned.projected["start"]
    assert "fewer bytes" in learned.describe()
    # What it projected holds for the stores themselves, metadata and model included.
    sizes = {}
    for label, model in (("start", start), ("learned", learned.model)):
        encoding = encoding_for(archive, model, chunks={"t": chunks}, **settings)
        archive.to_zarr(tmp_path / f"{label}.zarr", encoding=encoding, zarr_format=2)
        sizes[label] = store_size(zarr.storage.LocalStore(tmp_path / f"{label}.zarr"))[0]
    assert sizes["learned"] < sizes["start"], sizes


def test_an_end_unlike_the_rest_does_not_keep_a_model_the_rest_would_pay_for():
    """Probe 4: an archive whose last tenth was clean (an instrument changed) and the rest noise
    kept a model judged on that end alone, and the store took 15% more bytes than without it."""
    from inrcodec.learn import learn_archive
    from inrcodec.model import resolve
    from inrcodec.xarray import chunks_for

    rng = np.random.default_rng(1)  # the probe's archive: a fixed field and 4 modes, 200 days

    def blurred(sigma: float) -> np.ndarray:  # white noise under a Gaussian blur (periodic)
        f = np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(144), indexing="ij")
        blur = np.exp(-2 * np.pi ** 2 * sigma ** 2 * (f[0] ** 2 + f[1] ** 2))
        return np.fft.ifft2(np.fft.fft2(rng.standard_normal((64, 144))) * blur).real

    geo, modes = 30 * blurred(1.0), np.array([10 * blurred(2.0) for _ in range(4)])
    fields = 280 + geo + np.einsum("tk,kij->tij", rng.standard_normal((200, 4)), modes)
    fields[:170] += 2.0 * rng.standard_normal((170, 64, 144))
    fields[170:] += 0.01 * rng.standard_normal((30, 64, 144))
    fields = fields.astype(np.float32)
    start = resolve("linear-2d")
    learned = learn_archive(_dataset(fields), "t", start,
                            chunks_for(fields.shape, 4, start.patch_shape, ("time", "y", "x")),
                            {"min_psnr": 40})
    assert not learned.kept, learned.reason
    assert "fewer bytes there, but" in learned.reason and "across the variable" in learned.reason


def test_an_archive_without_anything_to_learn_keeps_the_start_model_and_says_why():
    from inrcodec.learn import learn_archive
    from inrcodec.model import resolve

    start = resolve("linear-2d")
    noise = np.random.default_rng(1).normal(size=(40, 37, 49)).astype(np.float32)
    set_aside = learn_archive(_dataset(noise), "t", start, (1, 37, 49), {"min_psnr": 45})
    assert not set_aside.kept and "is kept" in set_aside.reason
    one_field = learn_archive(_dataset(noise[:1])["t"][0].to_dataset(), "t", start, (37, 49), {})
    assert not one_field.kept and "one field" in one_field.reason
    constant = _dataset(np.full((40, 37, 49), 5.0, np.float32))
    failed = learn_archive(constant, "t", start, (1, 37, 49), {})
    assert not failed.kept and failed.model is None and "linear-2d kept" in failed.reason
    budget = learn_archive(_dataset(noise), "t", start, (1, 37, 49), {"bits_per_value": 0.5})
    assert not budget.kept and "no promise" in budget.reason


def test_a_linear_model_is_learned_not_fine_tuned(tmp_path, capsys):
    from inrcodec.adapt import adapt
    from inrcodec.cli import main

    path = tmp_path / "a.nc"
    _dataset(_archive(20, 0)).to_netcdf(path)
    with pytest.raises(ValueError, match="linear model"):
        adapt(str(path), "t", 0.1, init="linear-2d")
    assert main(["train", str(path), "--var", "t", "--init", "linear-2d", "--minutes", "0.1",
                 "--out", str(tmp_path / "m.safetensors")]) == 1
    assert "linear model: give --linear K" in capsys.readouterr().err
    assert main(["train", str(path), "--var", "t", "--init", "linear-2d", "--linear", "4",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    assert Model.load(tmp_path / "m.safetensors").latent_dim == 4


# --- absolute coordinates: a basis per patch position (model format 4) ------------------------

@pytest.fixture(scope="module")
def placed(a1b):
    """Each 19 x 25 patch position of A1B's 37 x 49 fields with EOFs of its own (fields 0-191)."""
    from inrcodec.coding.normalise import normalised
    from inrcodec.linear import learn_positions

    fields = np.stack([normalised(f[None])[0][0] for f in a1b[:192]])
    return learn_positions(fields, (19, 25), 24)


def test_positions_are_each_field_s_patches_in_order_and_only_in_home_fields(placed):
    assert placed.home == (37, 49) and len(placed.position_mean) == 4
    assert placed.positions((3, 37, 49)).tolist() == [0, 1, 2, 3] * 3
    assert placed.positions((37, 49)).tolist() == [0, 1, 2, 3]
    assert placed.positions((3, 30, 49)) is None and placed.positions((37, 50)) is None


def test_a_model_with_positions_is_a_format_4_file(placed, tmp_path):
    path = tmp_path / "placed.safetensors"
    placed.save(path)
    loaded = Model.load(path)
    assert loaded.hash == placed.hash and loaded.home == placed.home
    assert np.array_equal(loaded.position_table, placed.position_table)
    header = json.loads(json.loads(path.read_bytes()[8:8 + int.from_bytes(
        path.read_bytes()[:8], "little")])["__metadata__"]["inrcodec"])
    assert header["format"] == "inrcodec-model/4" and header["home"] == [37, 49]
    shared = LinearModel(placed.patch_shape, placed.mean, placed.table, placed.exponent,
                         placed.latent_std)
    assert shared.hash != placed.hash  # its positions decode differently: another model


def test_a_format_4_header_claiming_huge_positions_is_refused_before_allocating(placed):
    from inrcodec.linear import LinearModelError, check_file

    header = {"format": "inrcodec-model/4", "patch_shape": [64, 64], "exponent": 10,
              "home": [4096, 4096]}
    entries = {"mean": {"dtype": "F32", "shape": [4096]},
               "table": {"dtype": "I16", "shape": [1024, 4096]},
               "latent_std": {"dtype": "F32", "shape": [1024]},
               "position_mean": {"dtype": "F32", "shape": [4096, 4096]},
               "position_table": {"dtype": "I16", "shape": [4096, 1024, 4096]}}
    with pytest.raises(LinearModelError, match="at most 4096 positions"):
        check_file(header, entries)
    with pytest.raises(LinearModelError, match="positions in fields of shape"):
        check_file({**header, "home": None}, entries)


def test_each_position_is_projected_and_decoded_in_its_own_basis(placed, a1b):
    """What a model of that position's parts alone gives, patch by patch (to BLAS's rounding
    of a product of one row against several; decoding, integer sums, exactly)."""
    from inrcodec.patches import to_patches

    chunk = a1b[200:203].astype(np.float64)
    patches = to_patches(chunk, (19, 25), pad_value=np.nan)
    weight = np.isfinite(patches).astype(np.float64)
    positions = placed.positions(chunk.shape)
    latents = placed.project(np.nan_to_num(patches), weight, positions)
    for i, p in enumerate(positions):
        part = placed._parts[p]
        alone = part.project(np.nan_to_num(patches[i:i + 1]), weight[i:i + 1])
        np.testing.assert_allclose(latents[i:i + 1], alone, rtol=1e-10, atol=1e-9)
    symbols = np.rint(latents * 20).astype(np.int64)
    values = placed.values(symbols, 0.05, positions)
    for i, p in enumerate(positions):
        assert np.array_equal(values[i], placed._parts[p].values(symbols[i:i + 1], 0.05)[0])


@pytest.mark.parametrize("settings", [
    dict(min_psnr=None, latent_bits=6), dict(max_error=0.05), dict(min_psnr=45),
    dict(bits_per_value=0.3)], ids=lambda s: next(iter(s)))
def test_every_mode_keeps_its_promise_with_positions_and_elsewhere(placed, a1b, settings):
    """Home fields (one, several, with a masked corner) in their positions' bases; a chunk of
    other fields in the shared one."""
    masked = a1b[230:232].copy()
    masked[:, 5:15, 10:30] = np.nan
    codec = INRCodec(placed, **settings)
    for chunk in (a1b[192:204], a1b[205:206], masked, a1b[210:214, :30, :40]):
        encoded = codec.encode(chunk)
        decoded = numcodecs.get_codec(codec.get_config()).decode(encoded)
        assert np.array_equal(decoded, codec.decode(encoded), equal_nan=True)  # exact
        finite = np.isfinite(chunk)
        assert np.array_equal(np.isfinite(decoded), finite)
        error = np.abs(decoded[finite].astype(np.float64) - chunk[finite])
        if "max_error" in settings:
            assert error.max() <= settings["max_error"]
        if settings.get("min_psnr"):
            rms = math.sqrt(np.mean(error ** 2))
            assert 20 * math.log10(np.ptp(chunk[finite]) / rms) >= settings["min_psnr"] - 1e-9
        if "bits_per_value" in settings:
            assert 8 * len(encoded) <= settings["bits_per_value"] * chunk.size


def test_positions_learn_an_archive_s_geography_that_one_basis_cannot(placed, a1b):
    """Held-out A1B, 12 fields a chunk: at the same latents a patch, bases of their own
    positions reconstruct the fields better than one basis of every patch (docs/compare-
    models.md measures it against the PCA control)."""
    from inrcodec.measure import codec_round_trip

    chunks = [a1b[i:i + 12] for i in range(192, 240, 12)]
    shared = LinearModel(placed.patch_shape, placed.mean, placed.table, placed.exponent,
                         placed.latent_std)
    trips = {name: codec_round_trip(INRCodec(m, min_psnr=None, latent_bits=8), chunks)
             for name, m in (("placed", placed), ("shared", shared))}
    assert trips["placed"].psnr() > trips["shared"].psnr() + 3
    assert trips["placed"].stored_bytes < 1.2 * trips["shared"].stored_bytes


def _quadrant_archive(fields: int, seed: int, modes: int = 12) -> np.ndarray:
    """Fields whose four quarters vary each in patterns of their own: geography that one basis
    for every patch of a field would spend its latents (and the model its bytes) on."""
    rng = np.random.default_rng(seed)
    out = np.full((fields, 37, 49), 280.0)
    for ys, xs in [(slice(0, 19), slice(0, 25)), (slice(0, 19), slice(25, 49)),
                   (slice(19, 37), slice(0, 25)), (slice(19, 37), slice(25, 49))]:
        patterns = np.stack([smooth_field((37, 49), 1000 * seed + 37 * m + ys.start + xs.start)[ys, xs]
                             - 280 for m in range(modes)])
        weights = rng.normal(size=(fields, modes)) * np.linspace(3, 0.3, modes)
        out[:, ys, xs] += np.einsum("tm,mij->tij", weights, patterns)
    return out.astype(np.float32)


@pytest.mark.slow  # 10 s of learning from 600 fields
def test_an_archive_whose_quarters_differ_learns_a_basis_for_each():
    from inrcodec.learn import learn_archive
    from inrcodec.model import resolve

    learned = learn_archive(_dataset(_quadrant_archive(600, 0)), "t", resolve("linear-2d"),
                            (12, 37, 49), {"min_psnr": 50})
    assert learned.kept and learned.model.home == (37, 49), learned.reason
    assert "for each of the 4 19 x 25 patch positions of a field" in learned.reason


def test_train_writes_a_model_with_positions_that_a_codec_config_encodes_with(a1b_netcdf, tmp_path,
                                                                             capsys):
    """``inrcodec train --linear K --positions``: a format-4 file; a codec config naming it
    encodes and decodes a chunk of the archive's fields with it."""
    from inrcodec.cli import main
    from inrcodec.sample_data import A1B_VARIABLE

    out = tmp_path / "placed.safetensors"
    assert main(["train", str(a1b_netcdf), "--var", A1B_VARIABLE, "--init", "linear-2d",
                 "--linear", "8", "--positions", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "a linear model of 8 EOFs for each of the 4 19 x 25 patch positions of its 37 x 49 " \
           "fields" in said
    model = Model.load(out)
    assert model.home == (37, 49) and model.latent_dim == 8
    assert main(["train", str(a1b_netcdf), "--var", A1B_VARIABLE, "--init", "linear-2d",
                 "--positions", "--out", str(out)]) == 1
    assert "--positions learns a linear model: give --linear K" in capsys.readouterr().err
    import xarray as xr

    chunk = xr.open_dataset(a1b_netcdf)[A1B_VARIABLE].values[:2]
    codec = numcodecs.get_codec(INRCodec(model, max_error=0.1).get_config())
    assert np.abs(codec.decode(codec.encode(chunk)) - chunk).max() <= 0.1
