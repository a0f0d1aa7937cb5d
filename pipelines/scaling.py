"""Chunks per second of distributed compression with 1 and 2 LocalCluster workers.

Compresses the A1B sample (240 fields) in chunks of 4 fields (60 chunks), once per worker count,
each into a fresh store.

    python pipelines/scaling.py [--workers 1 2] [--markdown docs/scaling.md]
"""

import argparse
import tempfile
from pathlib import Path

from pipelines_common import machine, publish

from inrcodec.bench.machine import load_average, load_text
from inrcodec.distributed import compress
from inrcodec.sample_data import A1B_VARIABLE, a1b_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--markdown")
    args = p.parse_args()
    loads = [load_average()]
    lines = [f"Distributed compression of A1B (240 x 37 x 49 float32, chunks of 4 fields), "
             f"LocalCluster of single-threaded worker processes; {machine()}.", "",
             "| workers | chunks | seconds | chunks/s | MB/s |", "|---|---|---|---|---|"]
    for n in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            report = compress(a1b_path(), Path(tmp) / "a.zarr", n_workers=n, progress=False,
                              chunks={A1B_VARIABLE: (4, 37, 49)})
        stats = report.variables[A1B_VARIABLE]
        lines.append(f"| {n} | {stats.chunks} | {report.seconds:.1f} | "
                     f"{stats.chunks / report.seconds:.2f} | "
                     f"{stats.bytes_in / 1e6 / report.seconds:.2f} |")
    lines[0] += load_text(loads + [load_average()])
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
