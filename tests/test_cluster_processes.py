"""``compress`` against a cluster deployed as an HPC or Kubernetes site runs one: a scheduler and
workers started as separate processes by dask's own commands, found through a scheduler file.
One worker is killed mid-run (nanny and all): the other finishes the job, and nothing is lost."""

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from inrcodec.distributed import compress
from inrcodec.sample_data import A1B_VARIABLE

pytestmark = pytest.mark.skipif(shutil.which("dask") is None, reason="dask's command is not installed")


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(["dask", *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group: a kill takes the nanny too


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (found := predicate()):
            return found
        time.sleep(0.2)
    raise TimeoutError(f"no {what} after {seconds} s")


def test_a_separate_process_cluster_compresses_and_survives_a_killed_worker(a1b_netcdf, tmp_path):
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    processes = [_start(["scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                         "--dashboard-address", ":0"], tmp_path / "scheduler.log")]
    try:
        address = _wait_for(lambda: scheduler_file.exists() and json.loads(
            scheduler_file.read_text() or "{}").get("address"), 60, "scheduler")
        processes += [_start(["worker", address, "--nthreads", "1", "--nworkers", "1",
                              "--dashboard-address", ":0", "--memory-limit", "2GiB"],
                             tmp_path / f"worker{i}.log") for i in range(2)]
        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
        dest = tmp_path / "a1b.zarr"
        result = {}
        run = threading.Thread(target=lambda: result.update(report=compress(
            a1b_netcdf, dest, scheduler=address, chunks={A1B_VARIABLE: (2, 37, 49)},
            progress=False, max_error=0.1)))
        run.start()
        written = dest / A1B_VARIABLE

        def chunks_written() -> int:
            return sum(1 for p in written.iterdir() if p.name[0].isdigit()) if written.exists() else 0

        _wait_for(lambda: chunks_written() >= 2, 300, "chunks")
        os.killpg(processes[1].pid, signal.SIGKILL)  # a worker and its nanny, mid-run
        assert chunks_written() < 24
        run.join(timeout=600)
        assert not run.is_alive() and "report" in result
        report = result["report"].variables[A1B_VARIABLE]
        assert report.chunks == 24 and report.kept
        assert len(report.workers) >= 1
        source = xr.open_dataset(a1b_netcdf)[A1B_VARIABLE].values
        back = xr.open_zarr(dest)[A1B_VARIABLE].values
        assert np.abs(back.astype("f8") - source).max() <= 0.1
        again = compress(a1b_netcdf, dest, scheduler=address, chunks={A1B_VARIABLE: (2, 37, 49)},
                         progress=False, max_error=0.1)  # a rerun finds every chunk done
        assert again.variables[A1B_VARIABLE].encoded == 0
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
