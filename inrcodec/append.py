"""Appending to a store along one dimension (``inrcodec compress NEW... STORE --append-dim time``)
without ever decoding and re-encoding a stored chunk.

A lossy chunk re-encoded from its decoded values carries two rounds of error: appending two
12-hour halves to a store of 24-hour chunks once left 2,519 values off by twice their bound
(issue 33). So a store that grows keeps, beside its data, the original values of its last chunk
while that chunk is partial (the group ``inrcodec_pending``, one uncompressed array a variable,
which xarray does not read). The next append rewrites that chunk from those originals and the
new rows: every value is always coded from its original, once a chunk is whole it is never
touched again, and the originals of the new partial chunk, if any, replace the old ones.

An interrupted append is finished by running the same command again: the new rows are then
already in the store's coordinates, and only the chunks not yet written are encoded.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .store import delete_chunk, inrcodec_of
from .xarray import codec_of

PENDING = "inrcodec_pending"


@dataclass
class Tail:
    """The rows of one variable that an append writes: from the first row of the chunk that
    holds the store's end (``start``) to the new end, originals first."""

    name: str
    axis: int
    start: int
    chunk: int  # the chunk length along the axis
    values: object  # dask array: the originals kept of the partial chunk, then the new rows

    def blocks(self, chunks: tuple[int, ...]):
        """(dask block, its Zarr chunk coordinates) of every chunk the append writes."""
        values = self.values.rechunk(chunks)
        offset = self.start // self.chunk
        for index, block in np.ndenumerate(np.array(values.to_delayed(), dtype=object)):
            coords = list(index)
            coords[self.axis] += offset
            yield block, tuple(coords)


def plan(ds, dest: str, dim: str, encoding: dict) -> tuple[dict[str, Tail], bool]:
    """Each compressed variable's tail, and whether the store must still be extended (False:
    the new rows are already in it, an interrupted append being finished). Refuses, in a line,
    a source that does not continue the store."""
    import dask.array as da
    import xarray as xr
    import zarr

    group = zarr.open_group(dest, mode="r", use_consolidated=False)  # the pending group too
    with xr.open_zarr(dest) as stored:
        if dim not in stored.dims or dim not in ds.dims:
            raise ValueError(f"cannot append along {dim!r}: the store's dimensions are "
                             f"{', '.join(map(str, stored.dims))}, the source's "
                             f"{', '.join(map(str, ds.dims))}")
        for name, coord in ds.coords.items():
            if dim not in coord.dims and name in stored.coords and not coord.equals(stored[name]):
                raise ValueError(f"cannot append: coordinate {name!r} differs from the store's")
        new = ds[dim].values
        held = stored[dim].values
        extend = not (len(held) >= len(new) and np.array_equal(held[len(held) - len(new):], new))
        if extend and len(held) and len(new) and not new[0] > held[-1]:
            raise ValueError(f"cannot append: the source's {dim} starts at {new[0]}, not after the "
                             f"store's last {held[-1]}")
        end = len(held) if extend else len(held) - len(new)  # the rows stored before this append
    tails = {}
    for name, entry in encoding.items():
        if name not in group:
            raise ValueError(f"cannot append {name!r}: the store has no such variable")
        array = group[name]
        codec = inrcodec_of(array)
        if codec is None or codec.get_config() != codec_of(entry).get_config() \
                or tuple(array.chunks) != tuple(entry["chunks"]):
            raise ValueError(f"cannot append {name!r} with other settings than the store's "
                             "(codec, model or chunks): append with the same ones")
        axis = ds[name].dims.index(dim)
        chunk = array.chunks[axis]
        start = end // chunk * chunk
        rows = [ds[name].data]
        if end > start and not extend and _finished(group, name, start):
            raise AlreadyAppended(f"the store already holds every row of the source ({dim} "
                                  f"{new[0]} to {new[-1]}): nothing to append")
        if end > start:
            rows.insert(0, da.from_array(_pending_originals(group, name, start, end - start, axis)))
        tails[name] = Tail(name, axis, start, chunk, da.concatenate(rows, axis=axis))
    return tails, extend


class AlreadyAppended(ValueError):
    """The source's rows are in the store already, every chunk of them written."""


def _finished(group, name: str, start: int) -> bool:
    """Whether an append that rewrote the chunk starting at row ``start`` completed: the
    originals kept are no longer that chunk's (they are replaced last)."""
    pending = group.get(PENDING)
    array = pending.get(name) if pending is not None else None
    return array is None or array.attrs.get("start") != start


def whole(ds, dim: str, encoding: dict) -> dict[str, Tail]:
    """The tails of a new store that will grow along ``dim``: every row, from the first."""
    tails = {}
    for name, entry in encoding.items():
        if dim not in ds[name].dims:
            raise ValueError(f"cannot grow {name!r} along {dim!r}: its dimensions are "
                             f"{', '.join(map(str, ds[name].dims))}")
        axis = ds[name].dims.index(dim)
        tails[name] = Tail(name, axis, 0, entry["chunks"][axis], ds[name].data)
    return tails


def _pending_originals(group, name: str, start: int, rows: int, axis: int) -> np.ndarray:
    pending = group.get(PENDING)
    array = pending.get(name) if pending is not None else None
    if array is None or array.attrs.get("start") != start or array.shape[axis] != rows:
        raise ValueError(f"cannot append {name!r}: the store's last chunk holds {rows} rows and "
                         "their originals were not kept (the store was not written with "
                         "--append-dim): appending would re-encode them, adding error. Compress "
                         "the whole series again with --append-dim")
    return array[...]


def drop_rewritten_chunks(dest: str, tails: dict[str, Tail]) -> None:
    """Delete the partial last chunks the append rewrites from their originals, so that the
    workers, who skip a chunk already stored, encode them anew."""
    import zarr

    group = zarr.open_group(dest, mode="r+")
    for tail in tails.values():
        array = group[tail.name]
        grid = [-(-n // c) for n, c in zip(array.shape, array.chunks)]
        if tail.start >= array.shape[tail.axis]:
            continue  # the store ends on a chunk boundary: nothing is rewritten
        grid[tail.axis] = 1
        for index in np.ndindex(*grid):
            coords = list(index)
            coords[tail.axis] = tail.start // tail.chunk
            delete_chunk(array, tuple(coords))


def extend(ds, dest: str, dim: str, encoding: dict) -> None:
    """Grow the store's arrays and coordinates along ``dim`` by the source's rows: the
    variables along ``dim`` that are stored as they are, written now; the compressed ones by
    the workers, chunk by chunk."""
    import xarray as xr

    along = [name for name in ds.variables if dim in ds[name].dims]
    new = ds[along]
    kept = [name for name in along if name not in encoding]
    for name in kept:
        new.variables[name].load()
    new.to_zarr(dest, append_dim=dim, compute=False, safe_chunks=False)
    with xr.open_zarr(dest) as back:  # nothing a user wrote is dropped: read the new rows back
        rows = {dim: slice(back.sizes[dim] - ds.sizes[dim], None)}
        for name in kept:
            if not np.array_equal(back[name].isel(rows).values, new[name].values,
                                  equal_nan=new[name].dtype.kind in "fcmM"):
                raise OSError(f"{dest}: the appended rows of {name!r} read back different "
                              "from the source; report this")


def keep_originals(dest: str, tails: dict[str, Tail]) -> None:
    """After every chunk is written: keep the originals of each variable's new partial last
    chunk (or none, where it ends on a chunk boundary)."""
    import zarr

    group = zarr.open_group(dest, mode="r+", use_consolidated=False)
    pending = group.require_group(PENDING)
    for tail in tails.values():
        total = tail.start + tail.values.shape[tail.axis]
        start = total // tail.chunk * tail.chunk
        if tail.name in pending:
            del pending[tail.name]
        if total > start:
            index = [slice(None)] * tail.values.ndim
            index[tail.axis] = slice(start - tail.start, None)
            rows = np.asarray(tail.values[tuple(index)].compute())
            array = pending.create_array(tail.name, shape=rows.shape, dtype=rows.dtype,
                                         compressors=None, fill_value=None)
            array[...] = rows
            array.attrs["start"] = start
    if _consolidated(Path(dest)):
        zarr.consolidate_metadata(dest)  # what a reader of consolidated metadata sees, kept true


def _consolidated(store: Path) -> bool:
    v3 = store / "zarr.json"
    return (store / ".zmetadata").exists() or (v3.exists() and "consolidated_metadata" in v3.read_text())
