"""The hourly series a data manager keeps (issue 33): compressed on the first day, appended a
day at a time and then in ragged pieces, read back in a fresh process: every coordinate equal
to the source's, every value within its variable's own bound, the report's numbers the store's.
No stored chunk is re-encoded from decoded values (append.py), which is what broke a bound when
a partly filled chunk was appended to."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

from helpers import smooth_field
from inrcodec import append, cli
from inrcodec.append import PENDING
from inrcodec.distributed import compress
from inrcodec.store import inrcodec_of, stored_bytes

HOURS = 72
BOUNDS = {"t2m": 0.05, "z": 20.0}
PIECES = [(0, 24), (24, 48), (48, 53), (53, 54), (54, 72)]  # two days, then ragged pieces


@pytest.fixture(scope="module")
def series():
    time = pd.date_range("2024-01-01", periods=HOURS, freq="h")
    t2m = np.stack([smooth_field((37, 49), i) for i in range(HOURS)])
    z = np.stack([50000 + 300 * (smooth_field((37, 49), 1000 + i) - 280) for i in range(HOURS)])
    return xr.Dataset({"t2m": (("time", "lat", "lon"), t2m, {"units": "K"}),
                       "z": (("time", "lat", "lon"), z.astype("f4"), {"units": "m2 s-2"}),
                       "tcc_flag": (("time",), np.arange(HOURS) % 3)},
                      coords={"time": time, "lat": np.linspace(70, 34, 37),
                              "lon": np.linspace(-10, 38, 49),
                              "valid_time": (("time",), time + pd.Timedelta("1h"))})


def test_an_hourly_series_appended_day_by_day_and_in_ragged_pieces(series, tmp_path, cluster,
                                                                    capsys):
    dest = tmp_path / "era.zarr"
    promises = {name: {"max_error": bound} for name, bound in BOUNDS.items()}
    for i, (start, end) in enumerate(PIECES):
        piece = tmp_path / f"piece{i}.nc"
        series.isel(time=slice(start, end)).to_netcdf(piece)
        report = compress(piece, dest, scheduler=cluster, progress=False, append_dim="time",
                          promises=promises)
        group = zarr.open_group(dest, mode="r", use_consolidated=False)
        for name in BOUNDS:
            shape, chunk_bytes = report.held[name]
            assert shape == (end, 37, 49) and chunk_bytes == stored_bytes(group[name])[0]
            assert report.variables[name].kept
        step = group["t2m"].chunks[0]
        kept = sorted(group[PENDING].array_keys()) if PENDING in group else []
        last = end // step * step
        assert kept == ([f"t2m.{last}.{end}", f"z.{last}.{end}"] if end % step else [])
        if kept:
            assert cli.main(["info", str(dest)]) == 0
            assert "(its last chunk) are kept" in capsys.readouterr().out
    assert "appended 18 along time" in report.table()
    held = stored_bytes(group["t2m"])  # chunks and metadata, as every bits/val counts (probe 4)
    assert (f"kB of chunks and {held[1] / 1e3:.1f} kB of metadata, "
            f"{8 * sum(held) / group['t2m'].size:.3f} bits per value") in report.table()
    script = (f"import xarray, numpy\nds = xarray.open_zarr({str(dest)!r})\n"
              f"numpy.savez({str(tmp_path / 'back.npz')!r}, **{{n: ds[n].values for n in ds.variables}})")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    back = np.load(tmp_path / "back.npz")
    assert set(back.files) == set(series.variables)
    for name in ("time", "lat", "lon", "valid_time", "tcc_flag"):
        assert np.array_equal(back[name], series[name].values), name
    for name, bound in BOUNDS.items():
        error = np.abs(back[name].astype("f8") - series[name].values.astype("f8"))
        assert error.max() <= bound, name


def test_what_cannot_be_appended_is_refused_and_a_rerun_finishes_an_append(series, tmp_path,
                                                                          cluster):
    pieces = {}
    for label, (start, end) in {"first": (0, 30), "later": (30, 40), "earlier": (10, 20)}.items():
        pieces[label] = tmp_path / f"{label}.nc"
        series.isel(time=slice(start, end)).to_netcdf(pieces[label])
    dest = tmp_path / "s.zarr"
    compress(pieces["first"], dest, scheduler=cluster, progress=False, append_dim="time",
             max_error=0.1)
    with pytest.raises(ValueError, match="other settings"):
        compress(pieces["later"], dest, scheduler=cluster, progress=False, append_dim="time",
                 max_error=0.2)
    with pytest.raises(ValueError, match="not after the store's last"):
        compress(pieces["earlier"], dest, scheduler=cluster, progress=False, append_dim="time",
                 max_error=0.1)
    # Times a store kept in whole seconds cannot hold: xarray had written them in milliseconds
    # into the seconds array (year 31969) after growing it, then failed (probe 3).
    fine = series.isel(time=slice(30, 32)).assign_coords(
        time=series["time"].values[29] + np.array([250, 500], "timedelta64[ms]"))
    fine.to_netcdf(tmp_path / "fine.nc")
    before = xr.open_zarr(dest).load()
    with pytest.raises(ValueError, match="cannot hold the source's times exactly"):
        compress(tmp_path / "fine.nc", dest, scheduler=cluster, progress=False, append_dim="time",
                 max_error=0.1)
    xr.testing.assert_identical(xr.open_zarr(dest).load(), before)
    # A source that starts after the store but goes back (a time it holds already): the store
    # had ended with that time twice, and slicing it by time failed (probe 4).
    back = series.isel(time=slice(30, 33)).assign_coords(
        time=series["time"].values[[30, 31, 5]])
    back.to_netcdf(tmp_path / "back.nc")
    with pytest.raises(ValueError, match="does not increase"):
        compress(tmp_path / "back.nc", dest, scheduler=cluster, progress=False, append_dim="time",
                 max_error=0.1)
    xr.testing.assert_identical(xr.open_zarr(dest).load(), before)
    # An append interrupted after the store grew, before its chunks were written: the same
    # command again finishes it; once finished, it says there is nothing to append.
    encoding = {name: {"chunks": zarr.open_array(dest, path=name).chunks,
                       "compressors": inrcodec_of(zarr.open_array(dest, path=name))}
                for name in BOUNDS}
    later = xr.open_dataset(pieces["later"]).chunk({"time": 8})
    tails, grow = append.plan(later, str(dest), "time", encoding)
    append.drop_rewritten_chunks(str(dest), tails)
    append.extend(later, str(dest), "time", encoding)
    assert grow and xr.open_zarr(dest).sizes["time"] == 40
    compress(pieces["later"], dest, scheduler=cluster, progress=False, append_dim="time",
             max_error=0.1)
    with pytest.raises(append.AlreadyAppended, match="nothing to append"):
        compress(pieces["later"], dest, scheduler=cluster, progress=False, append_dim="time",
                 max_error=0.1)
    back = xr.open_zarr(dest)
    assert back.sizes["time"] == 40
    assert np.abs(back["t2m"].values - series["t2m"].values[:40]).max() <= 0.1
    plain = tmp_path / "plain.zarr"  # written without --append-dim: its partial chunk's
    compress(pieces["first"], plain, scheduler=cluster, progress=False, max_error=0.1,
             chunks={"t2m": (8, 37, 49), "z": (8, 37, 49)})  # originals are not kept
    with pytest.raises(ValueError, match="originals were not kept"):
        compress(pieces["later"], plain, scheduler=cluster, progress=False, append_dim="time",
                 max_error=0.1)


def test_a_store_started_from_one_step_takes_hourly_appends_and_a_static_field_is_kept(series,
                                                                                      tmp_path,
                                                                                      cluster):
    """Review findings: one midnight step made xarray keep times in days, and the next hours
    came back as days; a compressed field without the time dimension stopped appends."""
    ds = series.assign(orog=(("lat", "lon"), smooth_field((37, 49), 7)))
    dest = tmp_path / "s.zarr"
    for i, (start, end) in enumerate([(0, 1), (1, 5), (5, 30)]):
        ds.isel(time=slice(start, end)).to_netcdf(tmp_path / f"p{i}.nc")
        compress(tmp_path / f"p{i}.nc", dest, scheduler=cluster, progress=False,
                 append_dim="time", max_error=0.1)
    back = xr.open_zarr(dest)
    assert np.array_equal(back["time"].values, series["time"].values[:30])
    assert np.abs(back["orog"].values - ds["orog"].values).max() <= 0.1
    assert np.abs(back["t2m"].values - series["t2m"].values[:30]).max() <= 0.1


def test_a_store_that_grows_keeps_its_times_calendar(series, tmp_path, cluster):
    """xarray writes proleptic_gregorian unless told: a gregorian source's calendar had been
    replaced when the store was started to grow (its times' encoding, append.time_encoding)."""
    source = series.isel(time=slice(0, 6))
    source.time.encoding["calendar"] = "gregorian"
    dest = tmp_path / "grows.zarr"
    compress(source, dest, scheduler=cluster, progress=False, append_dim="time", learn=False,
             max_error=0.05)
    assert zarr.open_group(dest)["time"].attrs["calendar"] == "gregorian"
