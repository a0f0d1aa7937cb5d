"""Every example runs (on small settings) and says what it did."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

EXAMPLES = Path(__file__).parents[1] / "examples"


def run(script, *args):
    return subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], check=True,
                          capture_output=True, text=True).stdout


def test_xarray_climate(tmp_path):
    out = run("xarray_climate.py", tmp_path / "ex.zarr")
    assert "RMSE" in out and (tmp_path / "ex.zarr" / "air_temperature").is_dir()


def test_medical_volume_holds_its_bound_and_plots_a_slice(tmp_path):
    out = run("medical_volume.py", "--crop", 64, "--max-error", 2, "--out", tmp_path)
    assert "max error" in out and (tmp_path / "mni_slice.png").stat().st_size > 1000
    decoded = zarr.open_array(tmp_path / "mni.zarr", mode="r")[:]
    assert decoded.shape == (64, 64, 64) and decoded.dtype == np.uint8
    assert int(out.split("max error ")[1].split()[0]) <= 2


@pytest.mark.slow  # 20-35 s of a simulation and a cluster's start; the cluster's own tests
def test_turbulence_on_a_local_cluster(tmp_path):  # are in test_distributed.py
    out = run("turbulence_cluster.py", "--n", 32, "--out", tmp_path)
    assert "chunks/s" in out and all(name in out for name in ("vx", "vy", "vz"))
