"""A 3-D turbulence field (fluidsim) compressed on a dask LocalCluster, within an error bound.

    pip install torch==2.13.0 "inrcodec[examples]"
    python examples/turbulence_cluster.py [--n 64] [--relative-error 0.001] [--out turbulence]
"""

import argparse
import math
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from inrcodec.distributed import compress
from inrcodec.sample_data import turbulence


def turbulence_dataset(n: int, workdir: Path) -> xr.Dataset:
    """Decaying 3-D turbulence from random noise, with fluidsim's pseudo-spectral ns3d solver."""
    axis = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return xr.Dataset({name: (("z", "y", "x"), values)
                       for name, values in turbulence(n, workdir).items()},
                      coords={"z": axis, "y": axis, "x": axis})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--relative-error", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="turbulence")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    source = out / "turbulence.nc"
    turbulence_dataset(args.n, out).to_netcdf(source)
    shutil.rmtree(out / "turbulence.zarr", ignore_errors=True)  # a new field: start afresh
    report = compress(source, out / "turbulence.zarr", model="linear-3d", n_workers=args.workers,
                      relative_error=args.relative_error)
    print(report.table())
