"""A store whose chunks need no network is read without torch (issue 33: a cold read paid
1.2-1.7 s for it), to the same bytes as a process that has it."""

import subprocess
import sys

import numpy as np
import xarray as xr
import zarr

from helpers import smooth_field
from inrcodec.store import chunk_kinds
from inrcodec.xarray import encoding_for

SETTINGS = {"relative": {"pointwise_relative_error": 0.01}, "bounded": {"max_error": 0.05},
            "floor": {}}


def test_classic_chunks_decode_in_a_fresh_process_without_torch(tmp_path):
    fields = np.stack([smooth_field((60, 80), seed) for seed in range(4)])
    fields[:, :5, :7] = np.nan
    ds = xr.Dataset({name: (("time", "y", "x"), fields + 0.01 * i)
                     for i, name in enumerate(SETTINGS)})
    encoding = {}
    for name, settings in SETTINGS.items():
        encoding.update(encoding_for(ds, variables=[name], chunks={name: (2, 60, 80)}, **settings))
    store = tmp_path / "classic.zarr"
    ds.to_zarr(store, encoding=encoding, zarr_format=2, consolidated=True)
    back = xr.open_zarr(store)
    group = zarr.open_group(store, mode="r")
    for name in SETTINGS:
        assert not set(chunk_kinds(group[name])[0]) & {"LATENTS", "BOUNDED", "BOUNDED_SPATIAL",
                                                       "LATENTS_WAVELET"}, name
    expected = {name: back[name].values for name in SETTINGS}
    script = (f"import sys, numpy, xarray\nds = xarray.open_zarr({str(store)!r})\n"
              f"numpy.savez({str(tmp_path / 'fresh.npz')!r}, "
              f"**{{n: ds[n].values for n in {list(SETTINGS)!r}}})\n"
              "assert 'torch' not in sys.modules, 'reading classic chunks imported torch'\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    fresh = np.load(tmp_path / "fresh.npz")
    for name in SETTINGS:
        assert np.array_equal(fresh[name], expected[name], equal_nan=True), name
