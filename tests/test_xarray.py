"""The encoding helper: sensible chunks, and warnings about what silently breaks a lossy store."""

import subprocess
import warnings

import numpy as np
import pytest
import xarray as xr

from inrcodec import INRCodec
from inrcodec.sample_data import A1B_VARIABLE, open_a1b
from inrcodec.xarray import EncodingWarning, chunks_for, encoding_for


@pytest.fixture
def ds():
    return open_a1b()[[A1B_VARIABLE, "time_bnds"]].isel(time=slice(192, 200)).load()


def test_chunks_are_whole_fields_grouped_along_time():
    assert chunks_for((240, 37, 49), 4, (37, 49)) == (15, 37, 49)  # 16 chunks of 109 kB
    assert chunks_for((100000, 37, 49), 4, (37, 49)) == (565, 37, 49)  # <= 4 MiB
    assert chunks_for((6, 37, 49), 4, (37, 49)) == (6, 37, 49)  # at least 64 KiB, or all of it
    assert chunks_for((100, 37, 49), 4, (37, 49)) == (8, 37, 49)  # the last holds 4, not 1 of 9
    assert chunks_for((3, 500, 500), 4, (37, 49)) == (1, 500, 500)  # a whole field
    assert chunks_for((54, 18, 432), 4, (37, 49)) == (3, 18, 432)
    assert chunks_for((2, 1801, 3600), 4, (37, 49)) == (1, 925, 931)  # tiles of whole patches


@pytest.mark.parametrize("dims, shape, expected", [
    (("time", "level", "lat", "lon"), (5, 7, 37, 49), (3, 1, 37, 49)),
    (("level", "time", "lat", "lon"), (7, 6, 37, 49), (1, 3, 37, 49)),
    (("member", "level", "lat", "lon"), (10, 7, 37, 49), (1, 1, 37, 49)),
    (None, (5, 7, 37, 49), (3, 1, 37, 49)),  # without names: the first axis is grouped
    (("dim_0", "dim_1", "dim_2"), (6, 37, 49), (3, 37, 49)),  # xarray's for a numpy array's
    # Probe 3: levels and members under names no list holds (cfgrib, WRF, ROMS) were stacked.
    (("hybrid", "latitude", "longitude"), (20, 37, 49), (1, 37, 49)),
    (("bottom_top", "south_north", "west_east"), (20, 37, 49), (1, 37, 49)),
    (("valid_time", "s_rho", "eta", "xi"), (6, 5, 37, 49), (3, 1, 37, 49)),
])
def test_levels_members_and_variables_are_never_stacked_in_a_chunk(dims, shape, expected):
    assert chunks_for(shape, 8, (37, 49), dims) == expected


def test_every_floating_variable_with_room_for_patches_is_encoded(ds, tmp_path):
    encoding = encoding_for(ds, latent_bits=4)
    assert list(encoding) == [A1B_VARIABLE]  # not the 2-column time bounds
    assert encoding[A1B_VARIABLE]["compressors"] == INRCodec(latent_bits=4)
    ds.to_zarr(tmp_path / "a.zarr", zarr_format=2, encoding=encoding)
    v3 = encoding_for(ds, zarr_format=3)[A1B_VARIABLE]
    assert v3["compressors"] is None and type(v3["serializer"]).__name__ == "INRSerializer"


def test_a_fill_value_in_the_attributes_warns(ds):
    ds[A1B_VARIABLE].attrs["_FillValue"] = -999.0
    with pytest.warns(EncodingWarning, match="_FillValue -999.0"):
        encoding_for(ds)


def test_a_netcdf_sources_fill_value_is_dropped_and_its_nans_come_back(ds, tmp_path):
    import warnings

    ds[A1B_VARIABLE][:, :5, :7] = np.nan
    ds[A1B_VARIABLE].encoding["_FillValue"] = np.float32(1e20)  # as OSTIA's netCDF has it
    ds.to_netcdf(tmp_path / "a.nc")
    source = xr.open_dataset(tmp_path / "a.nc")
    assert source[A1B_VARIABLE].encoding["_FillValue"] == np.float32(1e20)
    for zarr_format in (2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("error", EncodingWarning)
            encoding = encoding_for(source, zarr_format=zarr_format)
        store = tmp_path / f"a{zarr_format}.zarr"
        source.to_zarr(store, zarr_format=zarr_format, encoding=encoding)
        back = xr.open_zarr(store)[A1B_VARIABLE].values
        assert np.array_equal(np.isnan(back), np.isnan(source[A1B_VARIABLE].values))
        assert np.nanmax(np.abs(back - source[A1B_VARIABLE].values)) < 5  # no 1e20 in the fit


def test_dask_chunks_straddling_zarr_chunks_warn(ds):
    with pytest.warns(EncodingWarning, match="straddle"):
        encoding_for(ds.chunk(time=3), chunks={A1B_VARIABLE: (2, 37, 49)})
    # Variables that share time, chunked unlike: one rechunking suits both, and writes (each
    # variable's own advice had broken the other's write: probe 4).
    two = ds.assign(doubled=2 * ds[A1B_VARIABLE])
    with pytest.warns(EncodingWarning, match=r"ds.chunk\(\{'time': 6, 'latitude': 37, "
                                             r"'longitude': 49\}\)") as warned:
        encoding_for(two.chunk(time=1), chunks={A1B_VARIABLE: (2, 37, 49), "doubled": (3, 37, 49)},
                     warn_partial=False)
    assert len(warned) == 2
    advised = two.chunk(time=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EncodingWarning)
        encoding_for(advised, chunks={A1B_VARIABLE: (2, 37, 49), "doubled": (3, 37, 49)},
                     warn_partial=False)


def test_a_partial_last_chunk_along_time_warns_that_an_xarray_append_would_re_encode_it(ds):
    with pytest.warns(EncodingWarning, match="append-dim time"):
        encoding_for(ds, chunks={A1B_VARIABLE: (3, 37, 49)})  # 8 fields: the last chunk holds 2


def test_rewriting_a_store_read_with_inrcodec_warns(ds, tmp_path):
    ds.to_zarr(tmp_path / "a.zarr", zarr_format=2, encoding=encoding_for(ds))
    with pytest.warns(EncodingWarning, match="second round of error"):
        encoding_for(xr.open_zarr(tmp_path / "a.zarr"))


@pytest.mark.parametrize("variables, error, message", [
    (["nope"], ValueError, "no variable 'nope'"),
    (["time_bnds"], TypeError, "object"),
])
def test_bad_variables_are_refused(ds, variables, error, message):
    with pytest.raises(error, match=message):
        encoding_for(ds, variables=variables)


def test_info_reports_codec_model_ratio_promise_and_chunk_kinds(ds, tmp_path):
    ds.to_zarr(tmp_path / "a.zarr", zarr_format=2, encoding=encoding_for(ds))
    out = subprocess.run(["inrcodec", "info", str(tmp_path / "a.zarr")], check=True,
                         capture_output=True, text=True).stdout
    row = next(line for line in out.splitlines() if line.startswith(A1B_VARIABLE))
    assert INRCodec().model.hash[:12] in row and INRCodec().mode.label in row
    *_, ratio, bits, network = row.split()
    assert float(ratio) > 10 and np.isfinite(float(ratio)) and network == "1/1"
    assert 8 * ds[A1B_VARIABLE].nbytes / float(ratio) / ds[A1B_VARIABLE].size == pytest.approx(
        float(bits), rel=1e-2)
    assert f"{A1B_VARIABLE}: chunks (all 1 stored, of 1) 1 by the network (LATENTS 1)" in out
    assert INRCodec().mode.promise in out


def test_cell_bounds_stay_exact_whatever_their_shape(ds):
    """A coordinate's CF bounds, (n, 2) or (y, x, 4), are coordinates' edges: the default
    floor had moved uwnd's latitude bounds by 5 degrees (and NEMO's cell corners by 21)."""
    lat = ds.latitude.values
    edges = np.stack([lat - 1.25, lat + 1.25], axis=1).astype(np.float64)
    corners = np.repeat(edges[:, None, :], 49, axis=1) * np.ones((1, 49, 2))
    with_bounds = ds.assign(lat_bnds=(("latitude", "bnds"), edges),
                            cell_corners=(("latitude", "longitude", "bnds"), corners))
    with_bounds.latitude.attrs["bounds"] = "lat_bnds"
    with_bounds[A1B_VARIABLE].attrs["bounds"] = "cell_corners"  # (named by a data variable)
    assert list(encoding_for(with_bounds)) == [A1B_VARIABLE]


def test_a_packed_variable_s_valid_range_is_said_to_be_in_packed_units():
    """CF gives a packed variable's valid range in its packed units (OSTIA: valid_max 4500 for
    kelvins packed by 0.01): the store keeps the unpacked floats, so the report says the
    attribute no longer describes them; an unpacked one's range may be left by the error."""
    from inrcodec.xarray import source_notes

    sst = xr.DataArray(np.zeros((2, 4, 5), np.float32), dims=("time", "lat", "lon"),
                       attrs={"valid_min": -300, "valid_max": 4500})
    sst.encoding.update(dtype=np.int16, scale_factor=0.01, add_offset=273.15, _FillValue=-32768)
    notes = source_notes(sst, 2)
    assert notes[0].startswith("packed in the source as int16") and len(notes) == 2
    assert "(valid_min -300, valid_max 4500) is in the source's packed units" in notes[1]
    fraction = xr.DataArray(np.zeros((2, 4, 5), np.float32), dims=("time", "lat", "lon"),
                            attrs={"valid_range": [0.0, 1.0], "missing_value": "n/a"})
    notes = source_notes(fraction, 2)
    assert "marked missing_value 'n/a'" in notes[0] and "may lie outside it" in notes[1]
