"""Where a variable's errors are and how they are spread: one figure per variable, a map of the
largest absolute error over the leading axes (time, ensemble, depth) beside a histogram of the
signed errors, as xbitinfo shows what it keeps. Computed with dask from the store as a reader
will open it and the source as given; drawing needs matplotlib (the ``examples`` extra).
"""

import warnings
from pathlib import Path

import numpy as np

BINS = 101


def write(source, dest: str, worst: dict[str, float], folder: str | Path) -> list[Path]:
    """``FOLDER/NAME.errors.png`` for each variable of ``worst`` (its largest absolute error,
    which the compress tasks measured: the histogram's range), and the paths written. Each
    variable is read and decoded once, for its map and its histogram together."""
    import dask
    import dask.array as da
    import xarray as xr

    plt = _pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored = xr.open_zarr(dest)
    written = []
    for name, largest in worst.items():
        error = (stored[name].data.astype(np.float64)
                 - da.asarray(source[name].data).astype(np.float64)).rechunk(stored[name].data.chunks)
        leading = tuple(range(max(error.ndim - 2, 0)))
        edge = largest if largest > 0 else 1.0
        # NaNs (missing in both) land outside the range and are not counted.
        counts, edges = da.histogram(da.where(da.isfinite(error), error, 2 * edge), bins=BINS,
                                     range=(-edge, edge))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            error_map, counts = dask.compute(da.nanmax(abs(error), axis=leading), counts)
        path = folder / f"{name}.errors.png"
        _draw(plt, name, np.atleast_2d(error_map), counts, edges, largest,
              [stored[name].dims[i] for i in leading], path)
        written.append(path)
    return written


def _draw(plt, name, error_map, counts, edges, worst, over, path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    image = left.imshow(error_map, origin="lower", cmap="magma", interpolation="nearest", aspect="auto")
    fig.colorbar(image, ax=left, label="|decoded - original|")
    left.set(title=f"{name}: largest error" + (f" over {', '.join(over)}" if over else ""))
    centres = (edges[:-1] + edges[1:]) / 2
    right.bar(centres, counts, width=edges[1] - edges[0], color="tab:blue")
    right.set_yscale("log")
    total = int(counts.sum())
    right.set(xlabel="decoded - original", ylabel="values",
              title=f"errors of {total:,} finite values (max {worst:.4g})")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def check() -> None:
    """Refuse before any work when the plots cannot be drawn."""
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(f"error plots need matplotlib ({e}): pip install 'inrcodec[examples]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

