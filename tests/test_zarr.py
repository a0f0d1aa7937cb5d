"""Round trips through real Zarr stores (format 2) and through xarray, read in a fresh process."""

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import xarray as xr
import zarr

from inrcodec.sample_data import A1B_VARIABLE, open_a1b
from inrcodec.store import chunk_kind, chunk_kinds


def psnr(x, y):
    x = x.astype(np.float64)
    return 20 * np.log10(np.ptp(x) / np.sqrt(np.mean((x - y) ** 2)))


def test_zarr_format_2_store_with_edge_chunks(codec, a1b, tmp_path):
    data = a1b[192:197, :, :45]  # 5 fields, chunks of 2: the last chunk is a padded edge chunk
    z = zarr.create_array(store=tmp_path / "a.zarr", shape=data.shape, dtype=data.dtype,
                          chunks=(2, 37, 49), zarr_format=2, compressors=codec,
                          fill_value=np.nan)
    z[:] = data
    decoded = zarr.open_array(tmp_path / "a.zarr", mode="r")[:]
    assert decoded.dtype == data.dtype and decoded.shape == data.shape
    assert psnr(data, decoded) > 30
    # Each stored chunk is exactly the codec's bytes for that padded chunk.
    padded = np.full((2, 37, 49), np.nan, np.float32)
    padded[:, :, :45] = data[:2]
    stored = (tmp_path / "a.zarr" / "0.0.0").read_bytes()
    assert stored == codec.encode(padded)


def test_zarr_store_of_integers_in_fortran_order(codec, tmp_path):
    rng = np.random.default_rng(0)
    data = np.asfortranarray(rng.integers(0, 200, (3, 37, 49)).astype("u1"))
    z = zarr.create_array(store=tmp_path / "u1.zarr", shape=data.shape, dtype="u1",
                          chunks=(1, 37, 49), zarr_format=2, compressors=codec, order="F")
    z[:] = data
    decoded = zarr.open_array(tmp_path / "u1.zarr", mode="r")[:]
    assert decoded.dtype == np.uint8 and decoded.shape == data.shape


def test_xarray_round_trip_read_in_a_fresh_process(codec, tmp_path):
    ds = open_a1b()[[A1B_VARIABLE]].isel(time=slice(192, 204))
    store = tmp_path / "a1b.zarr"
    ds.to_zarr(store, zarr_format=2, consolidated=True,
               encoding={A1B_VARIABLE: {"compressors": codec, "chunks": (1, 37, 49)}})
    here = xr.open_zarr(store)[A1B_VARIABLE].values
    assert psnr(ds[A1B_VARIABLE].values, here) > 30
    script = ("import sys, numpy as np, xarray as xr\n"
              f"ds = xr.open_zarr({str(store)!r})\n"
              f"np.save({str(tmp_path / 'fresh.npy')!r}, ds[{A1B_VARIABLE!r}].values)\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    assert np.array_equal(np.load(tmp_path / "fresh.npy"), here)
    reopened = xr.open_zarr(store)
    assert reopened[A1B_VARIABLE].encoding["compressors"][0] == codec


def test_zarr_format_3_serializer_in_sharded_store_read_in_a_fresh_process(codec, a1b, tmp_path):
    from inrcodec import INRSerializer

    serializer = INRSerializer()
    assert INRSerializer.from_dict(serializer.to_dict()) == serializer
    data = a1b[192:196]
    z = zarr.create_array(store=tmp_path / "v3.zarr", shape=data.shape, dtype=data.dtype,
                          chunks=(1, 37, 49), shards=(2, 37, 49), serializer=serializer,
                          compressors=None, fill_value=np.nan)
    z[:] = data
    here = zarr.open_array(tmp_path / "v3.zarr", mode="r")[:]
    # The same bitstream as the numcodecs codec, chunk for chunk.
    assert np.array_equal(here, np.concatenate([codec.decode(codec.encode(f[None])) for f in data]))
    script = ("import numpy as np, zarr\n"
              f"z = zarr.open_array({str(tmp_path / 'v3.zarr')!r})\n"
              f"np.save({str(tmp_path / 'fresh.npy')!r}, z[:])\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    assert np.array_equal(np.load(tmp_path / "fresh.npy"), here)
    # Each chunk's kind is read from its own place in its shard: info had read a shard's first
    # bytes alone and counted 2 chunks of 4 (probe 3).
    kinds, held = chunk_kinds(z)
    expected = Counter(chunk_kind(codec.encode(f[None])[:6]) for f in data)
    assert held == 4 and kinds == expected
    assert chunk_kinds(z, limit=3)[0].total() == 3


def test_a_0_d_array_is_refused_by_the_serializer_in_words_that_fit_it(tmp_path):
    from inrcodec import INRSerializer

    with pytest.raises(ValueError, match="this array has 0 dimensions \\(or store it without"):
        zarr.create_array(store=tmp_path / "0d.zarr", shape=(), dtype="f4",
                          serializer=INRSerializer(), compressors=None, fill_value=np.nan)


def test_xarray_zarr_format_3(tmp_path):
    from inrcodec import INRSerializer

    ds = open_a1b()[[A1B_VARIABLE]].isel(time=slice(192, 196))
    ds.to_zarr(tmp_path / "v3.zarr", zarr_format=3, consolidated=False,
               encoding={A1B_VARIABLE: {"serializer": INRSerializer(), "compressors": None,
                                        "chunks": (1, 37, 49)}})
    back = xr.open_zarr(tmp_path / "v3.zarr", consolidated=False)[A1B_VARIABLE].values
    assert back.shape == (4, 37, 49) and np.isfinite(back).all()


def test_zarr_format_3_refuses_what_it_cannot_store(tmp_path):
    from inrcodec import INRSerializer

    with pytest.raises(TypeError, match="complex"):
        zarr.create_array(store=tmp_path / "c.zarr", shape=(4, 4), dtype="c8",
                          serializer=INRSerializer(), compressors=None)
    with pytest.raises(ValueError, match="2-D patches"):
        zarr.create_array(store=tmp_path / "1d.zarr", shape=(100,), dtype="f4",
                          serializer=INRSerializer(), compressors=None)


def test_zarr_format_3_big_endian_integers_with_a_bound(tmp_path):
    from inrcodec import INRSerializer

    data = (np.random.default_rng(0).normal(size=(3, 37, 49)).cumsum(-1) * 50).astype(">i2")
    z = zarr.create_array(store=tmp_path / "i.zarr", shape=data.shape, chunks=(1, 37, 49),
                          dtype=">i2", serializer=INRSerializer(max_error=3),
                          compressors=None)
    z[:] = data
    back = zarr.open_array(tmp_path / "i.zarr", mode="r")[:]
    assert back.dtype.newbyteorder("=") == np.dtype("i2")  # zarr 3 hands back native order
    assert np.abs(back.astype(int) - data).max() <= 3


def test_zarr_format_3_refuses_a_chunk_claiming_another_shape_before_decoding_it(tmp_path, monkeypatch):
    """A damaged or hostile chunk that claims more values than the array's chunks hold is
    refused from its header: its reader fills no more than the chunk it asked for."""
    from inrcodec import INRCodec, INRSerializer
    from inrcodec.coding import interp

    data = np.random.default_rng(0).normal(size=(2, 37, 49)).cumsum(-1).astype("f4")
    z = zarr.create_array(store=tmp_path / "s.zarr", shape=data.shape, chunks=(1, 37, 49),
                          dtype="f4", serializer=INRSerializer(max_error=0.1), compressors=None)
    z[:] = data
    chunk = next(p for p in (tmp_path / "s.zarr").rglob("*") if p.is_file() and p.name == "0")
    big = np.random.default_rng(1).normal(size=(1, 600, 600)).cumsum(-1).astype("f4")
    chunk.write_bytes(INRCodec(max_error=0.1).encode(big))  # checksum-valid, 200x the values
    original = interp.decode

    def decode(data, shape, *args):
        if tuple(shape) == big.shape:
            pytest.fail("decoded a chunk of the wrong shape")
        return original(data, shape, *args)

    monkeypatch.setattr(interp, "decode", decode)
    with pytest.raises(ValueError, match=r"claims shape \(1, 600, 600\)"):
        zarr.open_array(tmp_path / "s.zarr", mode="r")[:]
