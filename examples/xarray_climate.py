"""Write a climate dataset with inrcodec through xarray, and read it back.

    pip install torch==2.13.0 "inrcodec[data]"
    python examples/xarray_climate.py [STORE]
"""

import sys

import numpy as np
import xarray as xr

from inrcodec import INRCodec
from inrcodec.sample_data import open_a1b

store = sys.argv[1] if len(sys.argv) > 1 else "a1b_inrcodec.zarr"
ds = open_a1b()[["air_temperature"]]  # (time 240, latitude 37, longitude 49), kelvin

# One chunk per field, matching the default model's 37 x 49 patch. Zarr format 2 takes a
# numcodecs codec under "compressors".
codec = INRCodec("linear-2d", latent_bits=6.5)  # the default model
ds.to_zarr(store, mode="w", zarr_format=2,
           encoding={"air_temperature": {"compressors": codec, "chunks": (1, 37, 49)}})

# Any process with inrcodec installed reads it back: the model travels in the store's metadata.
back = xr.open_zarr(store)
error = back["air_temperature"] - ds["air_temperature"]
print(f"RMSE {float(np.sqrt((error ** 2).mean())):.3f} K, "
      f"max error {float(abs(error).max()):.3f} K")
