"""Training data: windows of the model's patch shape drawn lazily from any archive.

Only the drawn windows are read, so an archive larger than memory trains like a small one.
"""

import glob
from pathlib import Path

import numpy as np


def open_source(source):
    """An xarray Dataset from a Dataset, a Zarr store, a netCDF file, or a list or glob of them."""
    import xarray as xr

    if isinstance(source, xr.Dataset):
        return source
    paths = [str(p) for p in source] if isinstance(source, list | tuple) else [str(source)]
    expanded = sorted(p for pattern in paths for p in (glob.glob(pattern) or [pattern]))
    missing = [p for p in expanded if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"no such source: {', '.join(missing)}")
    if len(expanded) == 1 and (Path(expanded[0]).is_dir() or expanded[0].endswith(".zarr")):
        return xr.open_zarr(expanded[0])
    if len(expanded) == 1:
        return xr.open_dataset(expanded[0], chunks={})
    return xr.open_mfdataset(expanded, combine="by_coords")


def sample_patches(source, variable: str, patch_shape: tuple[int, ...], count: int,
                   seed: int = 0, validation_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) windows of ``patch_shape`` from ``variable`` in ``source``.

    Windows sit at random positions in the variable's last ``len(patch_shape)`` axes; each
    index of the leading axes is a separate sample. The last ``validation_fraction`` of the
    first axis (time, usually) is held out: validation windows come only from there, so the
    validation PSNR measures data the model never saw.
    """
    ds = open_source(source)
    if variable not in ds.data_vars:
        raise ValueError(f"no variable {variable!r} in the source; it has {sorted(ds.data_vars)}")
    var = ds[variable]
    d = len(patch_shape)
    if var.ndim < d or any(p > n for p, n in zip(patch_shape, var.shape[-d:])):
        raise ValueError(f"{variable!r} of shape {var.shape} cannot hold {patch_shape} patches")
    lead = var.shape[:-d] or (1,)
    held_out = int(round(lead[0] * validation_fraction)) if var.ndim > d else 0
    rng = np.random.default_rng(seed)

    def draw(n: int, first: range) -> np.ndarray:
        windows = []
        for _ in range(n):
            index = (int(rng.choice(first)),) + tuple(int(rng.integers(m)) for m in lead[1:])
            start = [int(rng.integers(size - p + 1)) for size, p in zip(var.shape[-d:], patch_shape)]
            window = index[:var.ndim - d] + tuple(slice(s, s + p) for s, p in zip(start, patch_shape))
            windows.append(np.asarray(var[window].values, dtype=np.float32))
        return np.stack(windows)

    train = draw(count, range(lead[0] - held_out))
    validation = draw(max(count // 10, 1), range(lead[0] - held_out, lead[0])) if held_out else None
    return train, validation
