"""The codec config: what a store records, and what a reader does with a config it is handed."""

import json
import pathlib
import subprocess
import sys

import numcodecs
import numpy as np
import pytest
import xarray as xr

from inrcodec import INRCodec, ModelError
from inrcodec.codecs.numcodecs import ALLOW_MODEL_FILES, ConfigError
from inrcodec.model import DEFAULT, bundled_path
from inrcodec.sample_data import A1B_VARIABLE, open_a1b


def test_a_model_file_may_be_given_as_a_path(a1b):
    by_path = INRCodec(pathlib.Path(bundled_path(DEFAULT)))
    assert by_path.model.hash == INRCodec().model.hash
    assert by_path.decode(by_path.encode(a1b[200:201])).shape == (1, 37, 49)


def test_the_repr_evaluates_to_the_same_codec():
    for codec in (INRCodec(), INRCodec(max_error=0.5, inner_steps=2), INRCodec(bits_per_value=0.2)):
        assert eval(repr(codec)) == codec  # noqa: S307 - our own repr


def test_a_hash_mismatch_says_both_hashes_in_full():
    with pytest.raises(ModelError) as e:
        INRCodec(model_hash="0" * 64)
    assert "0" * 64 in str(e.value) and INRCodec().model.hash in str(e.value)


def test_a_bundled_model_is_named_by_hash_not_embedded(tmp_path):
    ds = open_a1b()[[A1B_VARIABLE]].isel(time=slice(200, 204))
    for i, name in enumerate(["a", "b", "c"]):
        ds[name] = ds[A1B_VARIABLE] + i
    encoding = {v: {"compressors": INRCodec(), "chunks": (1, 37, 49)} for v in ds.data_vars}
    ds.to_zarr(tmp_path / "s.zarr", zarr_format=2, consolidated=True, encoding=encoding)
    metadata = sum(p.stat().st_size for p in (tmp_path / "s.zarr").rglob(".z*"))
    assert metadata < 20_000  # four variables; each embedded model would be ~200 kB
    config = json.loads((tmp_path / "s.zarr" / "a" / ".zarray").read_text())["compressor"]
    assert "model_data" not in config and len(config["model_hash"]) == 64
    assert np.isfinite(xr.open_zarr(tmp_path / "s.zarr")["c"].values).all()
    assert "model_data" in INRCodec(embed_model=True).get_config()


def test_an_unknown_setting_says_a_newer_inrcodec_wrote_it():
    config = INRCodec().get_config()
    config["residual_predictor"] = "cubic"
    codec = numcodecs.get_codec(config)  # a store with it still opens
    with pytest.raises(ConfigError, match="residual_predictor.*newer inrcodec.*upgrade"):
        codec.decode(b"")
    assert codec.get_config() == config


def test_one_unusable_variable_leaves_the_others_readable(tmp_path):
    ds = open_a1b()[[A1B_VARIABLE]].isel(time=slice(200, 202))
    ds["other"] = ds[A1B_VARIABLE] + 1
    encoding = {v: {"compressors": INRCodec(), "chunks": (1, 37, 49)} for v in ds.data_vars}
    ds.to_zarr(tmp_path / "s.zarr", zarr_format=2, consolidated=False, encoding=encoding)
    meta = tmp_path / "s.zarr" / "other" / ".zarray"
    zarray = json.loads(meta.read_text())
    zarray["compressor"]["latent_bits"] = "lots"  # damaged, or a newer inrcodec's
    meta.write_text(json.dumps(zarray))
    opened = xr.open_zarr(tmp_path / "s.zarr", consolidated=False)
    assert np.isfinite(opened[A1B_VARIABLE].values).all()
    with pytest.raises(ConfigError, match="unusable inrcodec codec config: latent bits"):
        opened["other"].load()


def test_a_store_cannot_make_its_reader_read_a_local_file(tmp_path, a1b, monkeypatch):
    path = tmp_path / "m.safetensors"
    path.write_bytes(pathlib.Path(bundled_path("default-2d")).read_bytes())
    codec = INRCodec(str(path), embed_model=False)
    chunk = codec.encode(a1b[200:201])
    config = codec.get_config()
    config["model_hash"] = "e" * 64  # not a bundled model's: only the file could serve it
    reader = numcodecs.get_codec(config)
    with pytest.raises(ModelError, match=ALLOW_MODEL_FILES):
        reader.decode(chunk)
    monkeypatch.setenv(ALLOW_MODEL_FILES, "1")
    with pytest.raises(ModelError, match="not the model"):  # read now, and checked
        numcodecs.get_codec(config).decode(chunk)
    config["model_hash"] = codec.model_hash  # a bundled model's hash is served by the package
    monkeypatch.delenv(ALLOW_MODEL_FILES)
    assert numcodecs.get_codec(config).decode(chunk).shape == (1, 37, 49)


@pytest.mark.parametrize("model", ["linear-2d", pytest.param("default-2d", marks=pytest.mark.slow)])
def test_opening_a_store_imports_no_torch_and_loads_no_model(tmp_path, model):
    """Opening never imports torch; reading a SIREN's chunks does, a linear model's never."""
    ds = open_a1b()[[A1B_VARIABLE]].isel(time=slice(200, 202))
    ds.to_zarr(tmp_path / "s.zarr", zarr_format=2, consolidated=True,
               encoding={A1B_VARIABLE: {"compressors": INRCodec(model), "chunks": (1, 37, 49)}})
    script = ("import sys, xarray as xr\n"
              f"ds = xr.open_zarr({str(tmp_path / 's.zarr')!r})\n"
              "assert 'torch' not in sys.modules, 'opening imported torch'\n"
              f"ds[{A1B_VARIABLE!r}].values\n"
              f"assert ('torch' in sys.modules) == {model == 'default-2d'}\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
