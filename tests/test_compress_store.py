"""What ``inrcodec compress`` writes, as a data manager checks it (issue 33): every coordinate and
uncompressed variable kept and listed, a promise per variable, chunks that never stack levels,
one-line refusals of bad chunks and promises, provenance attributes. On the session's cluster."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

from helpers import smooth_field
from inrcodec import cli
from inrcodec.distributed import compress
from inrcodec.xarray import EncodingWarning

HOURS = 6


@pytest.fixture(scope="module")
def hourly(tmp_path_factory):
    """A netCDF file as a reanalysis ships one: hourly fields of temperature (K) and geopotential
    (m2/s2) on two pressure levels, a non-index time coordinate, a 2-D coordinate, a land mask of
    integers, precipitation types (int8 classes, -1 missing: xarray reads them as floats) and a
    1-D series."""
    time = pd.date_range("2021-07-01", periods=HOURS, freq="h")
    lat, lon = np.linspace(60, 20, 37), np.linspace(-30, 30, 49)
    t = np.stack([[smooth_field((37, 49), 10 * i + k) - 10 * k for k in range(2)] for i in range(HOURS)])
    z = 9.81 * np.stack([[5000 + 100 * (smooth_field((37, 49), 100 + 10 * i + k) - 280)
                          + 4000 * k for k in range(2)] for i in range(HOURS)])
    ds = xr.Dataset(
        {"t": (("time", "level", "lat", "lon"), t.astype("f4"), {"units": "K"}),
         "z": (("time", "level", "lat", "lon"), z.astype("f4"), {"units": "m2 s-2"}),
         "lsm": (("lat", "lon"), (t[0, 0] > 280).astype("i1")),
         "co2": (("time",), np.linspace(410, 411, HOURS)),
         "ptype": (("time", "lat", "lon"), (t[:, 0] // 3 % 4).astype("i1")),
         "msl": (("time", "lat", "lon"), 1e5 + 100 * (t[:, 0] - 280)),
         "soundings": (("launch", "lat", "lon"), np.zeros((0, 37, 49), "f4"))},
        coords={"time": time, "level": [850, 500], "lat": lat, "lon": lon,
                "valid_time": (("time",), time + pd.Timedelta("3h")),
                "lat2d": (("lat", "lon"), np.repeat(lat[:, None], 49, axis=1))})
    ds.ptype[:, :5, :5] = -1
    path = tmp_path_factory.mktemp("source") / "hourly.nc"
    ds.to_netcdf(path, encoding={"ptype": {"_FillValue": -1, "dtype": "i1"},
                                 "msl": {"dtype": "i2", "scale_factor": 1.0, "add_offset": 1e5,
                                         "_FillValue": -32767}})
    return path


@pytest.fixture(scope="module")
def written(hourly, tmp_path_factory, cluster):
    dest = tmp_path_factory.mktemp("stores") / "hourly.zarr"
    report = compress(hourly, dest, scheduler=cluster, progress=False,
                      promises={"t": {"max_error": 0.05}, "z": {"max_error": 10.0}})
    return dest, report


def test_every_coordinate_and_uncompressed_variable_reads_back_equal(hourly, written):
    dest, report = written
    source, back = xr.open_dataset(hourly), xr.open_zarr(dest)
    assert set(back.variables) == set(source.variables)
    for name in ("time", "level", "lat", "lon", "valid_time", "lat2d", "lsm", "co2", "ptype",
                 "soundings"):
        assert back[name].dtype == source[name].dtype, name
        assert np.array_equal(back[name].values, source[name].values, equal_nan=name == "ptype"), name
    assert report.lossless["valid_time"] == "coordinate"
    assert "integer" in report.lossless["lsm"] and "1-D" in report.lossless["co2"]
    # A variable without values: it had been "compressed" at 8,136 bits a value, PSNR nan.
    assert report.lossless["soundings"] == "no values" and back.soundings.shape == (0, 37, 49)
    # Classes with a _FillValue, which xarray decodes to floats, are integers: kept exact (an
    # int8 land-cover class had come back as 3.035), and on disk as they were.
    assert report.lossless["ptype"].startswith("integer on disk (int8, with a _FillValue)")
    assert back.ptype.encoding["dtype"] == np.int8 and np.isnan(back.ptype.values[:, :5, :5]).all()
    # A packed variable is compressed as the floats it unpacks to, and the report says so.
    assert report.notes == {"msl": ["packed in the source as int16 (scale_factor 1, add_offset "
                                    "100000, _FillValue -32767): compressed as the float64 "
                                    "values it unpacks to, and stored so"]}
    assert "  msl: packed in the source as int16" in report.table()
    assert "stored losslessly: " in report.table() and "valid_time" in report.table()


def test_each_variable_keeps_its_own_promise(hourly, written):
    dest, report = written
    source, back = xr.open_dataset(hourly), xr.open_zarr(dest)
    for name, bound in (("t", 0.05), ("z", 10.0)):
        error = np.abs(back[name].values.astype("f8") - source[name].values.astype("f8"))
        assert error.max() <= bound, name
        assert error.max() > bound / 10, name  # each its own bound, not the tighter one
        attrs = zarr.open_array(dest, path=name).attrs
        assert attrs["lossy_compression"] == "inrcodec"
        assert f"within {bound:g}" in attrs["lossy_compression_promise"]
    assert report.table().startswith("largest error: t ")
    # Six hours of unrelated fields: nothing to learn, the default model kept, and said so.
    for name in ("t", "z"):
        assert not report.learnings[name].kept
        assert f"  {name}: not learned in " in report.table(), report.table()


def test_default_chunks_never_hold_two_levels(written):
    dest, _ = written
    for name in ("t", "z"):
        chunks = zarr.open_array(dest, path=name).chunks
        assert chunks[1] == 1 and chunks[2:] == (37, 49), chunks


@pytest.mark.parametrize("chunks, words", [
    ({"t": (0, 1, 37, 49)}, "at least 1"), ({"t": (1, 37, 49)}, "3 sizes for 't'"),
    ({"nope": (1, 1, 37, 49)}, "no such variable"), ({"lsm": (37, 49)}, "not compressed")])
def test_bad_chunks_are_refused_in_a_line_before_anything_is_written(hourly, tmp_path, chunks,
                                                                     words):
    with pytest.raises(ValueError, match=words) as error:
        compress(hourly, tmp_path / "s.zarr", chunks=chunks, progress=False)
    assert "\n" not in str(error.value) and not (tmp_path / "s.zarr").exists()


def test_the_command_takes_a_promise_per_variable_and_refuses_unknown_ones(hourly, tmp_path,
                                                                           cluster, capsys):
    dest = tmp_path / "cli.zarr"
    assert cli.main(["compress", str(hourly), str(dest), "--scheduler", cluster, "--var", "t",
                     "--max-error", "1", "--max-error", "t=0.5"]) == 0
    assert "within 0.5 of the original" in zarr.open_array(dest, path="t").attrs[
        "lossy_compression_promise"]
    assert "stored losslessly" in capsys.readouterr().out
    assert cli.main(["compress", str(hourly), str(tmp_path / "x.zarr"), "--max-error", "q=1"]) == 1
    assert cli.main(["compress", str(hourly), str(tmp_path / "y.zarr"), "--max-error", "x"]) == 1
    assert cli.main(["compress", str(hourly), str(tmp_path / "no" / "z.zarr")]) == 1
    err = capsys.readouterr().err
    assert "'q', not among the compressed variables" in err and "VAR=NUMBER" in err
    assert "does not exist" in err


def test_info_of_a_store_without_inrcodec_says_so(hourly, tmp_path, capsys):
    xr.open_dataset(hourly).to_zarr(tmp_path / "plain.zarr", zarr_format=2)
    assert cli.main(["info", str(tmp_path / "plain.zarr")]) == 0
    assert "no variable of it is compressed by inrcodec" in capsys.readouterr().out


def test_a_pressure_level_store_holds_one_level_a_chunk_and_is_no_larger_than_sz3(tmp_path,
                                                                                    cluster):
    """Real UM fields (hybrid height, 15 levels) shifted apart as geopotential-like levels are,
    compressed with default chunks under a bound of 1% of a level's range: no chunk stacks
    levels, and the store's chunks take no more bytes than SZ3's at the same bound on the same
    chunks."""
    import pysz

    from inrcodec.bench.datasets import DATASETS
    from inrcodec.store import stored_bytes

    theta = DATASETS["hybrid_height"].load()[None]  # (time, level, y, x)
    levels = (theta + 500.0 * np.arange(theta.shape[1])[None, :, None, None]).astype("f4")
    ds = xr.Dataset({"z": (("time", "level", "y", "x"), levels)},
                    coords={"level": np.arange(theta.shape[1])})
    bound = 0.01 * float(np.ptp(theta, axis=(2, 3)).min())
    dest = tmp_path / "levels.zarr"
    compress(ds, dest, scheduler=cluster, progress=False, max_error=bound)
    array = zarr.open_group(dest, mode="r")["z"]
    assert array.chunks[:2] == (1, 1)
    config = pysz.szConfig()
    config.errorBoundMode = pysz.szErrorBoundMode.ABS
    config.absErrorBound = bound
    sz3 = sum(len(pysz.sz.compress(np.ascontiguousarray(levels[0, k]), config)[0].tobytes())
              for k in range(levels.shape[1]))
    ours = stored_bytes(array)[0]
    assert ours <= sz3, (ours, sz3)
    back = xr.open_zarr(dest)["z"].values
    assert np.abs(back.astype("f8") - levels).max() <= bound


@pytest.mark.parametrize("source_format, dest_format", [(3, 2), (2, 3)])
def test_a_zarr_source_goes_into_the_other_zarr_format(hourly, tmp_path, cluster, source_format,
                                                        dest_format):
    """The source's own storage (a format-3 serializer, a format-2 Blosc) is not the
    destination's: each had been refused by the other format's store, half made."""
    source = tmp_path / "source.zarr"
    xr.open_dataset(hourly).to_zarr(source, zarr_format=source_format)
    dest = tmp_path / "dest.zarr"
    compress(source, dest, scheduler=cluster, progress=False, zarr_format=dest_format,
             learn=False, max_error=0.05)
    back, original = xr.open_zarr(dest), xr.open_zarr(source)
    assert set(back.variables) == set(original.variables)
    assert np.array_equal(back.lsm.values, original.lsm.values)
    assert float(np.abs(back.t.values - original.t.values).max()) <= 0.05


def test_compressing_a_store_again_warns_and_carries_the_first_promise(written, tmp_path, cluster):
    """Its storage encoding dropped, a store's attributes still say it was lossily compressed."""
    dest, _ = written
    with pytest.warns(EncodingWarning, match="second round of error"):
        compress(dest, tmp_path / "again.zarr", scheduler=cluster, progress=False, variables=["t"],
                 max_error=0.1)
    promise = xr.open_zarr(tmp_path / "again.zarr").t.attrs["lossy_compression_promise"]
    assert promise == ("every finite value within 0.1 of the original (that original was itself "
                       "decoded from lossy compression: every finite value within 0.05 of the "
                       "original)")


def test_a_run_resumed_from_another_source_is_refused(hourly, tmp_path, cluster):
    dest = tmp_path / "d.zarr"
    compress(hourly, dest, scheduler=cluster, progress=False, variables=["t"], max_error=0.05)
    for chunk in sorted((dest / "t").glob("[0-9]*"))[1:]:  # as if it had stopped after one
        chunk.unlink()
    other = tmp_path / "other.nc"
    ds = xr.open_dataset(hourly)
    ds.assign(t=ds.t + 1).to_netcdf(other)
    with pytest.raises(ValueError, match="was started from another source: the first chunk of 't'"):
        compress(other, dest, scheduler=cluster, progress=False, variables=["t"], max_error=0.05)
    again = compress(hourly, dest, scheduler=cluster, progress=False, variables=["t"],
                     max_error=0.05)  # the same source resumes
    assert 0 < again.variables["t"].encoded < again.variables["t"].chunks


def test_a_source_with_groups_is_refused_and_compressed_a_group_at_a_time(hourly, tmp_path,
                                                                          cluster, capsys):
    """xarray reads a netCDF-4 file's root group only: its other groups had been dropped."""
    source = tmp_path / "groups.nc"
    ds = xr.open_dataset(hourly)
    ds[["t"]].to_netcdf(source)
    ds[["z"]].rename(z="geopotential").to_netcdf(source, mode="a", group="upper")
    assert cli.main(["compress", str(source), str(tmp_path / "all.zarr")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"inrcodec compress: error: {source} holds groups (upper) beside its root, which one run "
        "does not compress together: give --group / for the root's variables alone, or --group "
        "NAME for a group's (a store each)"]
    for group, name in (("/", "t"), ("upper", "geopotential")):
        dest = tmp_path / f"{name}.zarr"
        compress(source, dest, scheduler=cluster, progress=False, group=group, max_error=10.0)
        assert list(xr.open_zarr(dest).data_vars) == [name]
    # A group the file lacks: xarray's word for it was its name alone (probe 3).
    with pytest.raises(ValueError, match="has no group 'lower': its groups are upper"):
        compress(source, tmp_path / "lower.zarr", scheduler=cluster, progress=False, group="lower")


def test_what_a_cf_file_declares_is_kept_or_said(tmp_path, cluster):
    """Probe 5: station names as netCDF characters had been refused as changed (xarray joins
    characters it reads from Zarr), and a resumed run then kept them without the check; cell
    areas (``cell_measures``) were stored at 40 dB; a fill value, a valid range a decoded value
    may leave and fields across time went unsaid; chunks past the array's shape were coded
    padded (258 s for 25,920 values)."""
    lat, lon, time = np.linspace(-60, 60, 37), np.linspace(0, 360, 49, endpoint=False), range(4)
    tas = np.stack([smooth_field((37, 49), k) for k in time]).astype("f4")
    tas[:, :3, :3] = np.nan
    ds = xr.Dataset(
        {"tas": (("time", "lat", "lon"), tas,
                 {"cell_measures": "area: areacella", "valid_range": [200.0, 330.0]}),
         "areacella": (("lat", "lon"), 1e10 * np.cos(np.radians(lat))[:, None] * np.ones(49)),
         "across": (("lat", "lon", "time"), tas.transpose(1, 2, 0).copy()),
         "names": (("station", "nchar"), np.array([list("abc"), list("def")], "S1"))},
        coords={"time": list(time), "lat": lat, "lon": lon})
    source = tmp_path / "cf.nc"
    ds.to_netcdf(source, encoding={"tas": {"_FillValue": 1e20}})
    dest = tmp_path / "cf.zarr"
    report = compress(source, dest, scheduler=cluster, progress=False, learn=False,
                      chunks={"tas": (100, 100, 100)})
    assert set(report.variables) == {"tas", "across"}
    assert report.lossless["areacella"] and report.lossless["names"]
    back = xr.open_zarr(dest, concat_characters=False)
    assert np.array_equal(back.areacella.values, ds.areacella.values)
    assert np.array_equal(back.names.values, ds.names.values)
    assert zarr.open_array(dest, path="tas").chunks == (4, 37, 49)  # cut to the array's shape
    table = report.table()
    assert "tas: its missing values, marked _FillValue 1e+20 in the source, are stored as NaN" in table
    assert "tas: its valid range (valid_range [200, 330]) stays an attribute" in table
    assert "across: its fields are its last 2 dimensions (lon x time), across time" in table
    # A resumed run reads back what is stored as it is again: a changed one is refused.
    zarr.open_array(dest, path="areacella", mode="r+")[0, 0] = 0.0
    with pytest.raises(OSError, match="'areacella' reads back different from the source"):
        compress(source, dest, scheduler=cluster, progress=False, learn=False,
                 chunks={"tas": (100, 100, 100)})


@pytest.mark.parametrize("row, advice", [(0, "fix the source, delete "),
                                         (3, "fix the source and run the same command again")])
def test_an_infinity_says_how_to_go_on(tmp_path, cluster, row, advice):
    """Probe 5: "fix the source and run the same command again to resume" after an Inf in a
    variable's first chunk met the resumed run's check of that chunk: the store must go."""
    values = np.stack([smooth_field((37, 49), k) for k in range(4)]).astype("f4")
    values[row, 5, 5] = np.inf
    source = tmp_path / "inf.nc"
    xr.Dataset({"v": (("time", "y", "x"), values)}).to_netcdf(source)
    with pytest.raises(ValueError, match=advice):
        compress(source, tmp_path / "inf.zarr", scheduler=cluster, progress=False, learn=False,
                 chunks={"v": (2, 37, 49)})
