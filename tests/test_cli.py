import shutil
import subprocess
from pathlib import Path

import xarray as xr

from inrcodec.bench.datasets import iris_sample
from inrcodec.cli import main


def test_demo_prints_size_ratio_and_errors(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "bits per value" in out and "ratio" in out and "held out 192-239" in out


def test_bad_settings_give_one_readable_line_and_a_non_zero_exit():
    result = subprocess.run(["inrcodec", "demo", "--latent-bits", "0"], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "inrcodec demo: error: latent bits must be a multiple of 1/16 from 1 to 12 "
        "(such as 5 or 6.375), not 0.0"]


def test_an_unwritable_destination_is_one_line_before_any_worker_starts(a1b_netcdf, tmp_path,
                                                                        capsys):
    (tmp_path / "a_file").write_text("")
    for dest, reason in [(tmp_path / "a_file" / "out.zarr", "is a file, not a folder"),
                         (tmp_path / "a_file", "it is a file, not a Zarr store"),
                         *([("/sys/inrcodec-test.zarr", "is not writable")]
                           if Path("/sys/kernel").is_dir() else [])]:
        assert main(["compress", str(a1b_netcdf), str(dest)]) == 1
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"inrcodec compress: error: cannot write to {dest}: ")
        assert reason in line


def test_a_folder_of_files_is_refused_with_what_to_give(a1b_netcdf, tmp_path, capsys):
    (tmp_path / "files").mkdir()
    shutil.copy(a1b_netcdf, tmp_path / "files")
    assert main(["compress", str(tmp_path / "files"), str(tmp_path / "out.zarr")]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (f"inrcodec compress: error: {tmp_path / 'files'} is a folder, not a Zarr "
                    f"store: give its files (such as '{tmp_path / 'files' / '*.nc'}', quoted) or "
                    "a store")


def test_files_that_disagree_are_refused_in_one_line(a1b_netcdf, tmp_path, capsys):
    ostia = tmp_path / "ostia.nc"
    xr.open_dataset(iris_sample("ostia_monthly.nc")).isel(time=slice(0, 2)).to_netcdf(ostia)
    assert main(["compress", str(a1b_netcdf), str(ostia), str(tmp_path / "out.zarr")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "inrcodec compress: error: the source files cannot be combined into one dataset: they "
        "disagree on 'time' (a1b_part.nc has air_temperature, latitude_longitude, "
        "time_bnds; ostia.nc has forecast_reference_time_bnds, latitude_longitude, "
        "surface_temperature, time_bnds); compress each file, or each set of files that share "
        "their coordinates, into a store of its own"]
    assert not (tmp_path / "out.zarr").exists()


def test_files_on_grids_a_little_apart_are_refused_not_joined(a1b_netcdf, tmp_path, capsys):
    """xarray's outer join had laid two 37-row grids 0.01 degrees apart on 74 rows, half NaN."""
    moved = tmp_path / "moved.nc"
    ds = xr.open_dataset(a1b_netcdf)[["air_temperature"]].rename(air_temperature="tas_anom")
    ds.assign_coords(latitude=ds.latitude + 0.01).to_netcdf(moved)
    assert main(["compress", str(a1b_netcdf), str(moved), str(tmp_path / "out.zarr")]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "cannot be combined into one dataset: they disagree on 'latitude'" in line
    assert not (tmp_path / "out.zarr").exists()


def test_usage_errors_are_one_line_with_status_1(tmp_path, capsys):
    """argparse's own errors too (an unknown option, a bad choice, 0 workers, which waited for
    ever), and two promises for one variable (a bound's mode had dropped the PSNR floor). The
    console script once, as a user meets it; the others in this process (the same ``main``)."""
    dest = str(tmp_path / "b.zarr")
    result = subprocess.run(["inrcodec", "compress", "a.nc", dest, "--bogus"], capture_output=True,
                            text=True)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("inrcodec") and "unrecognized arguments: --bogus" in line, line
    for args, expected in [
            (["--zarr-format", "4"], "argument --zarr-format: invalid choice"),
            (["--workers", "0"], "argument --workers: a whole number of at least 1, not '0'"),
            (["--torch-threads", "-1"], "argument --torch-threads: a whole number of at least 1"),
            (["--max-error", "1", "--min-psnr", "60"],
             "--min-psnr and --max-error are two promises for every variable: give one"),
            (["--adapt", "1", "--no-adapt"], "--adapt MINUTES and --no-adapt contradict")]:
        try:
            status = main(["compress", "a.nc", dest, *args])
        except SystemExit as e:  # argparse's errors exit; the others return
            status = e.code
        assert status == 1, args
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("inrcodec") and expected in line, line
    assert not Path(dest).exists()

def test_info_reads_an_array_at_a_store_s_root_and_refuses_what_is_no_store(a1b_netcdf, tmp_path,
                                                                            capsys):
    """The README's zarr.create_array makes an array, not a group, at the root."""
    import numpy as np
    import zarr

    from inrcodec import INRSerializer

    path = tmp_path / "root.zarr"
    array = zarr.create_array(path, shape=(2, 37, 49), chunks=(1, 37, 49), dtype="f4",
                              serializer=INRSerializer(max_error=0.01), compressors=None,
                              fill_value=np.nan)
    array[:] = xr.open_dataset(a1b_netcdf).air_temperature.values[:2]
    assert main(["info", str(path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("root.zarr"))
    assert "(2, 37, 49)" in row and "+-0.01" in row
    assert main(["info", str(a1b_netcdf)]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"inrcodec info: error: {a1b_netcdf} is not a Zarr store")


def test_a_damaged_file_and_a_coordinate_named_by_var_are_said_so(a1b_netcdf, tmp_path, capsys):
    damaged = tmp_path / "damaged.nc"
    damaged.write_bytes(b"CDF\x01garbage" * 10)
    for args, expected in [
            ([str(damaged)], f"cannot read {damaged}: xarray cannot open it as netCDF, GRIB or Zarr"),
            ([str(a1b_netcdf), "--var", "latitude"],
             "'latitude' is a coordinate, which is stored exactly; the data variables are")]:
        assert main(["compress", *args, str(tmp_path / "out.zarr")]) == 1
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"inrcodec compress: error: {expected}"), line
