"""A newcomer's walk-through, scripted: the README's ``inrcodec compress`` and ``inrcodec info``
on the bundled A1B netCDF and on a real file with NaNs (OSTIA sea surface temperature, land
masked), every number of the report checked against the store on disk and against the data.

The quick variant (OSTIA, 8 months, interrupted with Ctrl-C and resumed) is in the default
suite; the whole walk-through (all of A1B, a year of OSTIA) is marked slow:
``pytest -m slow tests/test_walkthrough.py``.
"""

import math
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
import zarr

from inrcodec.bench.datasets import iris_sample
from inrcodec.measure import psnr
from inrcodec.sample_data import A1B_VARIABLE, a1b_path
from inrcodec.store import NETWORK_KINDS, chunk_kind

OSTIA = "surface_temperature"
COLUMNS = ["chunks", "encoded", "network", "mb_in", "kb_chunks", "kb_meta", "ratio", "bits",
           "psnr", "max_err", "bias"]


def inrcodec(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "inrcodec.cli", *map(str, args)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    return result


def ostia(tmp_path, months: int):
    path = tmp_path / "ostia.nc"
    xr.open_dataset(iris_sample("ostia_monthly.nc")).isel(time=slice(0, months)).to_netcdf(path)
    return path


def walk_through(source, variable: str, tmp_path, interrupt: bool = False) -> None:
    """``inrcodec compress SOURCE out.zarr`` (into a folder just made; with ``interrupt``,
    Ctrl-C once a chunk is written, then the same command again), then ``inrcodec info``."""
    tmp_path.mkdir(exist_ok=True)
    dest = tmp_path / "out.zarr"
    dest.mkdir()  # "mkdir out.zarr" first: a fine destination
    if interrupt:
        interrupted = ctrl_c_once_a_chunk_is_written(source, dest / variable)
    report = inrcodec("compress", source, dest).stdout
    row = dict(zip(COLUMNS, map(float, report_row(report, variable)[:len(COLUMNS)])))
    whole = re.search(r"whole store: ([\d.]+) kB in (\d+) files for ([\d.]+) MB .*: ratio ([\d.]+), "
                      r"([\d.]+) bits per value .*; du: ([\d.]+) kB", report)
    kept = re.search(r">=40 dB +(yes|NO), worst chunk ([\d.]+) dB", report)
    assert whole and kept, report

    # Against the store on disk.
    files = [p for p in dest.rglob("*") if p.is_file()]
    folder = [p for p in files if p.parent == dest / variable]
    chunks = sum(p.stat().st_size for p in folder if not p.name.startswith("."))
    metadata = sum(p.stat().st_size for p in folder if p.name.startswith("."))
    original = xr.open_dataset(source)[variable].values
    stored = chunks + metadata
    assert row["kb_chunks"] == round(chunks / 1e3, 1) and row["kb_meta"] == round(metadata / 1e3, 1)
    assert row["ratio"] == pytest.approx(original.nbytes / stored, abs=0.051)
    assert row["bits"] == pytest.approx(8 * stored / original.size, abs=5e-4)  # NaNs counted
    total = sum(p.stat().st_size for p in files)
    du = int(subprocess.run(["du", "-s", "-B1", str(dest)], capture_output=True, text=True,
                            check=True).stdout.split()[0])
    assert float(whole[1]) == round(total / 1e3, 1) and int(whole[2]) == len(files)
    assert float(whole[5]) == pytest.approx(8 * total / original.size, abs=5e-4)
    assert float(whole[6]) == round(du / 1e3, 1)

    # Against the data.
    decoded = xr.open_zarr(dest)[variable].values
    assert np.array_equal(np.isnan(decoded), np.isnan(original))  # no false _FillValue alarm
    finite = np.isfinite(original)
    error = decoded[finite].astype(np.float64) - original[finite]
    assert row["psnr"] == pytest.approx(psnr(original, decoded), abs=0.006)
    assert row["max_err"] == pytest.approx(np.abs(error).max(), rel=1e-3)
    assert row["bias"] == pytest.approx(error.mean(), rel=0.006, abs=1e-6)  # as printed, 3 digits
    array = zarr.open_array(dest, path=variable, mode="r")
    mode = array.compressors[0].mode
    worst, network = math.inf, 0
    for index in np.ndindex(*array.cdata_shape):
        part = tuple(slice(i * n, (i + 1) * n) for i, n in zip(index, array.chunks))
        value, chunk_kept = mode.measure(original[part], decoded[part], 0, 0)
        worst = min(worst, value)
        assert chunk_kept  # the promise, on every chunk
        head = (dest / variable / ".".join(map(str, index))).read_bytes()[:6]
        network += chunk_kind(head) in NETWORK_KINDS
    assert kept[1] == "yes" and float(kept[2]) == pytest.approx(worst, abs=0.006) and worst >= 40
    assert row["network"] == network and row["chunks"] == array.nchunks
    assert row["encoded"] == array.nchunks - (interrupted if interrupt else 0)

    # inrcodec info says the same of the store.
    info = report_row(inrcodec("info", dest).stdout, variable)
    assert info[-3:] == [f"{row['ratio']:.1f}", f"{row['bits']:.3f}", f"{network}/{array.nchunks}"]


def ctrl_c_once_a_chunk_is_written(source, folder) -> int:
    """Start ``inrcodec compress``, press Ctrl-C once it has written a chunk, check that it said
    so in one line; the chunks it had written."""
    run = subprocess.Popen([sys.executable, "-m", "inrcodec.cli", "compress", str(source),
                            str(folder.parent)], start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not [p for p in folder.glob("[0-9]*") if p.is_file()]:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C sends: to the client and its cluster
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "Traceback" not in err and "Error" not in err, err
    assert err.replace("\r", "\n").strip().splitlines()[-1] == (
        "inrcodec compress: interrupted: run the same command again to resume")
    return len([p for p in folder.glob("[0-9]*") if p.is_file()])


def report_row(text: str, variable: str) -> list[str]:
    """The numbers after a variable's name in its row of a table."""
    line = next(line for line in text.splitlines() if line.startswith(variable + " "))
    return line.split()[1:]


def test_a_newcomer_compresses_a_file_with_nans_interrupts_and_resumes(tmp_path):
    walk_through(ostia(tmp_path, 8), OSTIA, tmp_path / "ostia", interrupt=True)


@pytest.mark.slow
def test_a_newcomer_compresses_the_bundled_sample_and_a_year_of_ostia(tmp_path):
    walk_through(a1b_path(), A1B_VARIABLE, tmp_path / "a1b")
    walk_through(ostia(tmp_path, 12), OSTIA, tmp_path / "ostia")
