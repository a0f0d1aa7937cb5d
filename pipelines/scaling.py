"""Chunks per second of distributed compression with 1 and 2 workers, and each worker's memory,
on a cluster deployed as an HPC or Kubernetes site runs one: ``dask scheduler`` and ``dask
worker`` started as separate processes (one thread each), found through a scheduler file.

Compresses the A1B sample (240 fields) in chunks of 4 fields (60 chunks), once per worker count,
each into a fresh store, on a fresh cluster. A worker's memory is its peak resident set size
over the run (``getrusage``), the nanny apart.

    python pipelines/scaling.py [--workers 1 2] [--markdown docs/scaling.md]
"""

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from pipelines_common import machine, publish

from inrcodec.bench.machine import load_average, load_text
from inrcodec.distributed import compress
from inrcodec.sample_data import A1B_VARIABLE, a1b_path


@contextmanager
def process_cluster(workers: int, folder: Path):
    """The address of a scheduler and ``workers`` single-threaded workers, each its own
    process group, stopped afterwards."""
    scheduler_file = folder / "scheduler.json"
    started = [subprocess.Popen(["dask", "scheduler", "--scheduler-file", str(scheduler_file),
                                 "--port", "0", "--dashboard-address", ":0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)]
    try:
        deadline = time.monotonic() + 60
        while not (scheduler_file.exists() and scheduler_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise TimeoutError("the scheduler did not start")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        started += [subprocess.Popen(["dask", "worker", address, "--nthreads", "1",
                                      "--dashboard-address", ":0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
                    for _ in range(workers)]
        yield address
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            process.wait(timeout=60)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from distributed import Client

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--markdown")
    args = p.parse_args()
    loads = [load_average()]
    lines = ["Distributed compression of A1B (240 x 37 x 49 float32, chunks of 4 fields) on a "
             "scheduler and single-threaded workers started as separate processes (`dask "
             f"scheduler`, `dask worker`); {machine()}. Memory: each worker's peak resident set "
             "size over the run.", "",
             "| workers | chunks | seconds | chunks/s | MB/s | peak MB per worker |",
             "|---|---|---|---|---|---|"]
    for n in args.workers:
        with tempfile.TemporaryDirectory() as tmp, process_cluster(n, Path(tmp)) as address:
            with Client(address) as client:
                client.wait_for_workers(n, timeout=120)
                report = compress(a1b_path(), Path(tmp) / "a.zarr", scheduler=address,
                                  progress=False, chunks={A1B_VARIABLE: (4, 37, 49)})
                memory = sorted(client.run(peak_rss_mb).values())
        stats = report.variables[A1B_VARIABLE]
        lines.append(f"| {n} | {stats.chunks} | {report.seconds:.1f} | "
                     f"{stats.chunks / report.seconds:.2f} | "
                     f"{stats.bytes_in / 1e6 / report.seconds:.2f} | "
                     f"{', '.join(f'{m:.0f}' for m in memory)} |")
    lines[0] += load_text(loads + [load_average()])
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
