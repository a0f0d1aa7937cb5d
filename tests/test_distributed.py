"""Compression on a real dask.distributed LocalCluster (2 worker processes), and resuming.

The tests share the session's cluster (conftest.py's ``cluster``), except where the cluster is
what is tested: the command killed mid-run (with the cluster it started) and a worker killed
mid-run start their own."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xarray as xr
import zarr

from inrcodec import classic
from inrcodec.distributed import compress
from inrcodec.sample_data import A1B_VARIABLE
from inrcodec.xarray import encoding_for

CHUNKS = (8, 37, 49)


def test_workers_encode_and_the_store_matches_a_single_process_write(a1b_netcdf, tmp_path, cluster,
                                                                    monkeypatch):
    from distributed import Client

    calls = []
    compute = Client.compute
    monkeypatch.setattr(Client, "compute", lambda self, *a, **k: calls.append(1) or compute(
        self, *a, **k))
    report = compress(a1b_netcdf, tmp_path / "d.zarr", chunks={A1B_VARIABLE: CHUNKS},
                      scheduler=cluster, progress=False)
    assert len(calls) == 1  # every chunk submitted at once
    stats = report.variables[A1B_VARIABLE]
    assert stats.chunks == stats.encoded == 6
    assert os.getpid() not in stats.workers  # fitted in the worker processes
    assert 0 < stats.bytes_out < stats.bytes_in and stats.psnr_db > 30
    distributed = xr.open_zarr(tmp_path / "d.zarr")[A1B_VARIABLE].values
    assert np.array_equal(distributed, single_process_write(a1b_netcdf, tmp_path / "s.zarr", CHUNKS))
    assert "chunks/s" in report.table()
    # The report adds up to the store on disk, and to the data.
    files = [p for p in (tmp_path / "d.zarr").rglob("*") if p.is_file()]
    folder = [p for p in files if p.parent.name == A1B_VARIABLE]
    assert (report.store_bytes, report.store_files) == (sum(p.stat().st_size for p in files), len(files))
    assert stats.bytes_out == sum(p.stat().st_size for p in folder if not p.name.startswith("."))
    assert stats.metadata_bytes == sum(p.stat().st_size for p in folder if p.name.startswith("."))
    assert stats.bits_per_value == 8 * (stats.bytes_out + stats.metadata_bytes) / distributed.size
    original = xr.open_dataset(a1b_netcdf)[A1B_VARIABLE].values.astype(np.float64)
    assert stats.max_abs_error == np.abs(distributed - original).max()
    assert stats.bias == pytest.approx(np.mean(distributed - original), rel=1e-6, abs=1e-9)
    assert stats.kept and sum(stats.kinds.values()) == 6 and stats.network_chunks <= 6
    # What a classic codec would have needed, re-derived chunk by chunk from the data: on the
    # archive the model learned, many times inrcodec's bytes.
    codec = zarr.open_array(tmp_path / "d.zarr", path=A1B_VARIABLE).compressors[0]
    classic_bytes = 0
    for start in range(0, 48, CHUNKS[0]):
        x, y = original[start:start + CHUNKS[0]], distributed[start:start + CHUNKS[0]]
        classic_bytes += classic.compare(x.astype(np.float32), np.abs(y - x).max(),
                                         np.sqrt(np.mean((y - x) ** 2)), codec.model)["bytes"]
    assert stats.classic["chunks"] == 6 and stats.classic["bytes"] == classic_bytes
    assert classic_bytes > 5 * stats.bytes_out
    assert f"would have needed {classic_bytes / stats.bytes_out:.2f}x" in stats.against_classic()


def test_an_interrupted_run_resumes_without_redoing_finished_chunks(a1b_netcdf, tmp_path, cluster):
    dest = tmp_path / "d.zarr"
    command = [sys.executable, "-m", "inrcodec.cli", "compress", str(a1b_netcdf), str(dest),
               "--chunks", f"{A1B_VARIABLE}=2,37,49", "--workers", "2"]
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    chunk_dir = dest / A1B_VARIABLE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(chunk_dir.glob("*.0.0"))) < 3:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # the client, its cluster and its workers, mid-run
    run.wait()
    done = len(list(chunk_dir.glob("*.0.0")))
    assert 3 <= done < 24
    report = compress(a1b_netcdf, dest, chunks={A1B_VARIABLE: (2, 37, 49)}, scheduler=cluster,
                      progress=False)
    stats = report.variables[A1B_VARIABLE]
    assert stats.chunks == 24 and stats.encoded == 24 - done  # Zarr writes chunks atomically
    reference = single_process_write(a1b_netcdf, tmp_path / "s.zarr", (2, 37, 49))
    assert np.array_equal(xr.open_zarr(dest)[A1B_VARIABLE].values, reference)


def single_process_write(source, store, chunks):
    ds = xr.open_dataset(source)
    ds.to_zarr(store, zarr_format=2, encoding=encoding_for(ds, chunks={A1B_VARIABLE: chunks}))
    return zarr.open_array(store, path=A1B_VARIABLE)[:]


@pytest.mark.slow  # ~40 s; test_cluster_processes.py kills a worker in the default suite
def test_a_worker_killed_mid_run_loses_nothing(a1b_netcdf, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        victim = next(iter(client.run(os.getpid).values()))
        dest = tmp_path / "d.zarr"
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(compress, a1b_netcdf, dest, chunks={A1B_VARIABLE: (2, 37, 49)},
                              scheduler=cluster.scheduler_address, progress=False)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not list((dest / A1B_VARIABLE).glob("*.0.0")):
                time.sleep(0.02)
            os.kill(victim, signal.SIGKILL)  # the nanny restarts it; its tasks run elsewhere
            report = run.result(timeout=300)
    assert report.variables[A1B_VARIABLE].chunks == 24
    reference = single_process_write(a1b_netcdf, tmp_path / "s.zarr", (2, 37, 49))
    assert np.array_equal(xr.open_zarr(dest)[A1B_VARIABLE].values, reference)


def test_resuming_with_other_settings_is_refused(a1b_netcdf, tmp_path):
    from inrcodec.destination import write_metadata

    foreign = tmp_path / "foreign.zarr"
    xr.open_dataset(a1b_netcdf).to_zarr(foreign)  # a store this command did not start
    with pytest.raises(ValueError, match="without inrcodec: choose another destination"):
        compress(a1b_netcdf, foreign, chunks={A1B_VARIABLE: CHUNKS}, progress=False)
    started = tmp_path / "started.zarr"
    ds = xr.open_dataset(a1b_netcdf).chunk({"time": CHUNKS[0]})
    write_metadata(ds, str(started), encoding_for(ds, chunks={A1B_VARIABLE: CHUNKS}), 2)
    with pytest.raises(ValueError, match="other settings"):
        compress(a1b_netcdf, started, chunks={A1B_VARIABLE: CHUNKS}, latent_bits=4, progress=False)
    with pytest.raises(ValueError, match="other settings: model linear-2d"):
        compress(a1b_netcdf, started, chunks={A1B_VARIABLE: CHUNKS}, model="default-2d",
                 progress=False)
    # Probe 3: another Zarr format was silently ignored, and a narrower --var had the report
    # call the variables left out "stored losslessly", though the store held them lossy.
    with pytest.raises(ValueError, match="is a Zarr format 2 store"):
        compress(a1b_netcdf, started, chunks={A1B_VARIABLE: CHUNKS}, zarr_format=3, progress=False)
    two = ds.assign(doubled=2 * ds[A1B_VARIABLE])
    both = tmp_path / "both.zarr"
    write_metadata(two, str(both), encoding_for(two, chunks={A1B_VARIABLE: CHUNKS,
                                                             "doubled": CHUNKS}), 2)
    two.to_netcdf(tmp_path / "two.nc")
    with pytest.raises(ValueError, match="started compressing 'doubled' too"):
        compress(tmp_path / "two.nc", both, variables=[A1B_VARIABLE], chunks={A1B_VARIABLE: CHUNKS},
                 progress=False)
    with pytest.raises(ValueError, match=f"started without 'doubled' \\(it compresses {A1B_VARIABLE}\\)"):
        compress(tmp_path / "two.nc", started, chunks={A1B_VARIABLE: CHUNKS, "doubled": CHUNKS},
                 progress=False)
