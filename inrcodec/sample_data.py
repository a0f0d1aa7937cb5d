"""Real sample data that installs with pip (the ``data`` extra), for the demo, tests and pipelines.

iris-sample-data's HadCM3 A1B scenario: annual-mean 2 m air temperature over North America,
240 fields of 37 x 49 (kelvin). The bundled default model was trained on fields 0-191; fields
192-239 were never seen in training and are the held-out test split.
"""

import functools
import math
import os
from pathlib import Path

import numpy as np

A1B_VARIABLE = "air_temperature"
A1B_TRAIN, A1B_TEST = slice(0, 192), slice(192, 240)


def a1b_path() -> Path:
    try:
        import iris_sample_data
    except ImportError as e:
        raise ImportError("the A1B sample data comes with iris-sample-data: "
                          "pip install 'inrcodec[data]'") from e
    return Path(iris_sample_data.__file__).parent / "sample_data" / "A1B_north_america.nc"


def open_a1b():
    """The A1B file as an xarray Dataset (needs xarray and netCDF4: ``inrcodec[data]``)."""
    import xarray as xr

    return xr.open_dataset(a1b_path(), engine="netcdf4")


def load_a1b() -> np.ndarray:
    """All 240 A1B fields as a (240, 37, 49) float32 array."""
    import netCDF4

    with netCDF4.Dataset(a1b_path()) as ds:
        return np.asarray(ds[A1B_VARIABLE][:], dtype=np.float32)


def mni_path() -> Path:
    """nilearn's MNI152 T1 template (197 x 233 x 189 uint8, 1 mm)."""
    try:
        import nilearn
    except ImportError as e:
        raise ImportError("the MNI brain template comes with nilearn: "
                          "pip install 'inrcodec[examples]'") from e
    return (Path(nilearn.__file__).parent / "datasets" / "data"
            / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")


def load_mni() -> np.ndarray:
    """The MNI152 T1 template as a (197, 233, 189) uint8 array (needs nibabel)."""
    import nibabel

    image = nibabel.load(mni_path())
    return np.asarray(image.dataobj, dtype=np.uint8)


def turbulence(n: int, workdir: str | Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Velocity components ``vx, vy, vz`` ((n, n, n) float64) of decaying 3-D turbulence from
    seeded random noise, with fluidsim's pseudo-spectral ns3d solver (``inrcodec[examples]``).
    fluidsim writes its run folder under ``workdir``."""
    os.environ.setdefault("FLUIDSIM_PATH", str(Path(workdir) / "fluidsim"))
    try:
        from fluidsim.solvers.ns3d.solver import Simul
    except ImportError as e:
        raise ImportError("the turbulence field comes from fluidsim: "
                          "pip install 'inrcodec[examples]'") from e

    params = Simul.create_default_params()
    params.oper.nx = params.oper.ny = params.oper.nz = n
    params.oper.Lx = params.oper.Ly = params.oper.Lz = 2 * math.pi
    params.oper.type_fft = "fft3d.with_pyfftw"
    params.nu_2 = 1e-2
    params.init_fields.type = "noise"
    params.time_stepping.t_end = 1.0
    params.output.HAS_TO_SAVE = False
    params.output.periods_print.print_stdout = 0
    np.random.seed(seed)  # fluidsim draws its initial noise from numpy's global generator
    # FFTW's default planner times its algorithms and may pick another each run: the field
    # then differed in its last bits from run to run (and the benchmark's turbulence rows
    # with it). A heuristic plan is the same every run.
    import pyfftw

    measured = pyfftw.FFTW
    pyfftw.FFTW = functools.partial(measured, flags=("FFTW_ESTIMATE",))
    try:
        sim = Simul(params)
    finally:
        pyfftw.FFTW = measured
    sim.time_stepping.start()
    return {name: np.array(sim.state.state_phys.get_var(name)) for name in ("vx", "vy", "vz")}
