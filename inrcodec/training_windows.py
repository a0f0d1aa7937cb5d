"""Training data: distinct windows drawn lazily from any archive, and the patches the codec
would cut them into.

Only the drawn windows are read, so an archive larger than memory trains like a small one.
"""

import glob
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .coding.normalise import normalised
from .patches import to_patches

MIN_FINITE = 1 / 8  # of a patch's points: emptier patches (land, padding) teach a model little


def open_source(source, group: str | None = None):
    """An xarray Dataset from a Dataset, a Zarr store, a netCDF file, or a list or glob of them;
    ``group``: that group of each (a path such as "ocean" or "ocean/deep"), not the root."""
    import xarray as xr

    if isinstance(source, xr.Dataset):
        return source
    expanded = source_paths(source)
    missing = [p for p in expanded if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"no such source: {', '.join(missing)}")
    if len(expanded) == 1 and is_zarr(expanded[0]):
        return xr.open_zarr(expanded[0], group=group)
    if len(expanded) == 1:
        return xr.open_dataset(expanded[0], chunks={}, group=group)
    # join="exact": files on other grids are refused, not laid on the union of their grids
    # (xarray's outer join filled two 37-row grids 0.01 degrees apart into 74 rows of NaN).
    return xr.open_mfdataset(expanded, combine="by_coords", join="exact", group=group)


def source_paths(source) -> list[str]:
    """The files a source names (paths, lists of them, globs), sorted."""
    paths = [str(p) for p in source] if isinstance(source, list | tuple) else [str(source)]
    return sorted(p for pattern in paths for p in (glob.glob(pattern) or [pattern]))


def is_zarr(path: str) -> bool:
    return Path(path).is_dir() or path.endswith(".zarr")


def subgroups(path: str, group: str | None = None) -> list[str]:
    """The groups inside a netCDF-4 file or a Zarr store (inside ``group``, else its root),
    which xarray does not read with it; none where the file has no groups or is not one of
    those (GRIB, netCDF-3)."""
    try:
        if is_zarr(path):
            import zarr

            found = zarr.open_group(path, path=group or "", mode="r")
            return sorted(name for name, _ in found.groups())
        import netCDF4

        with netCDF4.Dataset(path) as found:
            for part in filter(None, (group or "").split("/")):
                found = found.groups[part]
            return sorted(found.groups)
    except Exception:  # noqa: BLE001 (xarray says what is wrong with a file it cannot open)
        return []


@dataclass
class Windows:
    """Distinct training windows, distinct held-out windows, and how many the archive holds."""

    train: np.ndarray  # (n, *window_shape)
    validation: np.ndarray | None  # from the held-out end of the first axis; None without one
    asked: int
    available: int  # distinct training windows on the grid of starts

    def describe(self) -> str:
        held = ("no held-out windows (the variable has no leading axis to hold out)"
                if self.validation is None else
                f"{len(self.validation)} distinct held-out windows from the last tenth of the "
                "first axis")
        if self.available < self.asked:
            return (f"all {len(self.train)} distinct windows the archive holds (of {self.asked} "
                    f"asked for), {held}")
        return f"{len(self.train)} distinct windows, {held}"


def sample_patches(source, variable: str, patch_shape: tuple[int, ...], count: int,
                   seed: int = 0, validation_fraction: float = 0.1, progress: bool = False) -> Windows:
    """Distinct training and held-out windows of ``patch_shape`` from ``variable`` in ``source``.

    A window is an index of the leading axes and a start in the last ``len(patch_shape)``
    axes, on a grid of half a patch (and the last start, so that the edges are covered): no two
    windows are the same, and none overlaps another of the same index by more than half. The
    last ``validation_fraction`` of the first axis (time, usually) is held out: validation
    windows come only from there, so the validation PSNR measures data the model never saw.
    When the archive holds fewer windows than ``count``, all of them are taken (``Windows``
    says so).
    """
    from tqdm.auto import tqdm

    ds = open_source(source)
    if variable not in ds.data_vars:
        raise ValueError(f"no variable {variable!r} in the source; it has {sorted(ds.data_vars)}")
    var = ds[variable]
    d = len(patch_shape)
    if var.ndim < d or any(p > n for p, n in zip(patch_shape, var.shape[-d:])):
        raise ValueError(f"{variable!r} of shape {var.shape} cannot hold {patch_shape} patches")
    lead = var.shape[:-d]
    held_out = int(round(lead[0] * validation_fraction)) if lead else 0
    starts = [sorted(set(range(0, n - p + 1, max(1, p // 2))) | {n - p})
              for n, p in zip(var.shape[-d:], patch_shape)]
    rng = np.random.default_rng(seed)

    def draw(n: int, first: range, desc: str) -> tuple[np.ndarray, int]:
        grid = (len(first), *lead[1:], *map(len, starts))
        total = math.prod(grid)
        by_index: dict[tuple, list] = {}
        for flat in _distinct(rng, total, n):
            where = np.unravel_index(int(flat), grid)
            index = (first[where[0]], *where[1:len(lead)]) if lead else ()
            # The grid has one leading entry even without leading axes (the single index).
            corner = tuple(int(axis[i]) for axis, i in zip(starts, where[max(len(lead), 1):]))
            by_index.setdefault(tuple(int(i) for i in index), []).append(corner)
        # One read per index of the leading axes (a field, a volume): the box around its windows.
        windows = []
        for index, corners in tqdm(by_index.items(), desc=desc, unit="field", disable=not progress):
            low = np.min(corners, 0)
            high = np.max(corners, 0) + patch_shape
            box = np.asarray(var[index + tuple(slice(a, b) for a, b in zip(low, high))].values,
                             dtype=np.float32)
            for corner in corners:
                windows.append(box[tuple(slice(c - a, c - a + p) for c, a, p in
                                         zip(corner, low, patch_shape))])
        order = rng.permutation(len(windows))  # not grouped by field
        return np.stack(windows)[order], total

    first = range(lead[0] - held_out) if lead else range(1)
    train, available = draw(count, first, "reading training windows")
    validation = (draw(max(count // 10, 1), range(lead[0] - held_out, lead[0]),
                       "reading held-out windows")[0] if held_out else None)
    return Windows(train, validation, count, available)


def _distinct(rng: np.random.Generator, total: int, count: int) -> np.ndarray:
    """``min(count, total)`` distinct integers below ``total``, in random order."""
    if total <= 4 * count:
        return rng.permutation(total)[:count]
    chosen: dict[int, None] = {}
    while len(chosen) < count:
        for i in rng.integers(0, total, count - len(chosen)):
            chosen.setdefault(int(i))
    return np.fromiter(chosen, dtype=np.int64)


def codec_windows(windows):
    """Each window (float32) normalised as the codec normalises a chunk, NaN where a value is
    missing; windows with fewer than two distinct finite values left out."""
    for window in windows:
        window = np.asarray(window, dtype=np.float32)
        finite = np.isfinite(window)
        if finite.sum() < 2 or np.ptp(window[finite]) == 0:
            continue
        yield np.where(finite, normalised(window)[0], np.nan).astype(np.float32)


def codec_patches(windows, patch_shape: tuple[int, ...]) -> np.ndarray:
    """The patches the codec would fit in ``windows`` (arrays of any shape, as chunks): each
    window normalised as a whole, as the codec normalises a chunk, then cut as the codec cuts
    one, its edges padded with NaN ("don't care"). Patches with less than ``MIN_FINITE`` of
    their points finite, or a single value, are left out. (n, *patch_shape) float32, NaN where
    nothing counts: what ``meta_train(..., normalise=False)`` takes."""
    out = []
    for values in codec_windows(windows):
        for patch in to_patches(values, patch_shape, pad_value=np.nan):
            kept = patch[np.isfinite(patch)]
            if len(kept) >= MIN_FINITE * len(patch) and np.ptp(kept) > 0:
                out.append(patch.reshape(patch_shape))
    if not out:
        raise ValueError("no window holds a patch with two distinct finite values")
    return np.stack(out)
