"""The A1B split shared by the training and evaluation pipelines.

iris-sample-data's HadCM3 A1B scenario: annual-mean 2 m air temperature over North America,
240 fields of 37 x 49. Fields 0-191 train, fields 192-239 (never seen in training) test.
"""

from pathlib import Path

import netCDF4
import numpy as np

TRAIN, TEST = slice(0, 192), slice(192, 240)


def a1b_path() -> Path:
    import iris_sample_data

    return Path(iris_sample_data.__file__).parent / "sample_data" / "A1B_north_america.nc"


def load_a1b() -> np.ndarray:
    with netCDF4.Dataset(a1b_path()) as ds:
        return np.asarray(ds["air_temperature"][:], dtype=np.float32)
