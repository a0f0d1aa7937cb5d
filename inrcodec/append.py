"""Appending to a store along one dimension (``inrcodec compress NEW... STORE --append-dim time``)
without ever decoding and re-encoding a stored chunk.

A lossy chunk re-encoded from its decoded values carries two rounds of error: appending two
12-hour halves to a store of 24-hour chunks once left 2,519 values off by twice their bound
(issue 33). So a store that grows keeps, beside its data, the original values of its last chunk
while that chunk is partial (the group ``inrcodec_pending``, one uncompressed array a variable
named ``VAR.FIRST.END`` for its rows, which xarray does not read). The next append rewrites that
chunk from those originals and the new rows: every value is coded from its original, a whole
chunk is never touched again, and the originals of the new partial chunk replace the old ones
(written first, deleted last). Its times are kept in whole seconds, so any later step fits.

Everything is checked before anything is written (the source holds every variable the store
grows, with the store's settings, starting after its end); a static field is written once and
left alone. An interrupted append is finished by running the same command again; a finished
one says there is nothing to append.
"""

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .destination import same_values
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
        for index, block in np.ndenumerate(values.to_delayed()):
            coords = list(index)
            coords[self.axis] += offset
            yield block, tuple(coords)


def plan(ds, dest: str, dim: str, encoding: dict) -> tuple[dict[str, Tail], bool]:
    """Each compressed variable's tail, and whether the store must still be extended (False:
    the new rows are already in it, an interrupted append being finished). Everything is
    checked here, before anything is written: a source that does not continue the store is
    refused in one line and leaves it as it was."""
    import xarray as xr
    import zarr

    group = zarr.open_group(dest, mode="r", use_consolidated=False)  # the pending group too
    with xr.open_zarr(dest) as stored:
        if dim not in stored.dims or dim not in ds.dims:
            raise ValueError(f"cannot append along {dim!r}: the store's dimensions are "
                             f"{', '.join(map(str, stored.dims))}, the source's "
                             f"{', '.join(map(str, ds.dims))}")
        _check_continues(ds, stored, dim, encoding, group)
        new = ds[dim].values
        held = stored[dim].values
        extend = not (len(held) >= len(new) and np.array_equal(held[len(held) - len(new):], new))
        if extend and len(held) and len(new) and not new[0] > held[-1]:
            raise ValueError(f"cannot append: the source's {dim} starts at {new[0]}, not after the "
                             f"store's last {held[-1]}")
        if extend and len(new) > 1 and not (new[1:] > new[:-1]).all():
            at = int(np.argmin(new[1:] > new[:-1])) + 1  # the first that does not go on
            raise ValueError(f"cannot append: the source's {dim} does not increase ({new[at]} "
                             f"after {new[at - 1]}), and a store's {dim} must")
        if extend:
            _check_encodable(ds, stored, dim)
        end = len(held) if extend else len(held) - len(new)  # the rows stored before this append
    tails = {}
    for name in encoding:
        if dim not in ds[name].dims:
            continue  # a static field: stored once, not appended to
        axis = ds[name].dims.index(dim)
        chunk = group[name].chunks[axis]
        start = end // chunk * chunk
        if not extend and _finished(group, name, start, len(held), axis, chunk):
            continue  # this variable's part of an interrupted append was completed
        rows = [ds[name].data]
        if end > start:
            import dask.array as da

            rows.insert(0, da.from_array(_pending_originals(group, name, start, end)))
        tails[name] = Tail(name, axis, start, chunk, _concatenate(rows, axis))
    if not extend and not tails:
        raise AlreadyAppended(f"the store already holds every row of the source ({dim} "
                              f"{new[0]} to {new[-1]}): nothing to append")
    return tails, extend


def whole(ds, dim: str, encoding: dict) -> dict[str, Tail]:
    """The tails of a new store that will grow along ``dim``: every row of each variable along
    it, from the first (a static field has none: it is written once, as any variable)."""
    tails = {}
    for name, entry in encoding.items():
        if dim in ds[name].dims:
            axis = ds[name].dims.index(dim)
            tails[name] = Tail(name, axis, 0, entry["chunks"][axis], ds[name].data)
    return tails


def time_encoding(ds, dim: str) -> dict:
    """Encodings for the times along ``dim`` of a store that will grow: whole seconds since
    1970 in int64, which any later hourly or minutely step fits exactly (xarray would choose
    the units of the first piece: days, for one midnight step). The source's calendar is
    kept (xarray would write proleptic_gregorian for a gregorian one)."""
    return {name: {"units": "seconds since 1970-01-01", "dtype": "int64",
                   **{k: var.encoding[k] for k in ("calendar",) if k in var.encoding}}
            for name, var in ds.variables.items() if dim in var.dims and var.dtype.kind == "M"}


def _concatenate(rows: list, axis: int):
    import dask.array as da

    return rows[0] if len(rows) == 1 else da.concatenate(rows, axis=axis)


class AlreadyAppended(ValueError):
    """The source's rows are in the store already, every chunk of them written."""


def _check_continues(ds, stored, dim: str, encoding: dict, group) -> None:
    """The source holds every variable the store grows along ``dim``, compressed with the
    store's settings, and the store's other coordinates: else appending would leave variables
    of different lengths, or re-encode one through its codec."""
    for name, var in stored.variables.items():
        if dim not in var.dims or name == dim:
            continue
        if name not in ds.variables:
            raise ValueError(f"cannot append: the store grows {name!r} along {dim}, the source "
                             "does not hold it")
        compressed = name in group and inrcodec_of(group[name]) is not None
        if compressed and name not in encoding:
            raise ValueError(f"cannot append: the store compresses {name!r}; name it with --var "
                             "too (or leave --var out)")
    for name, entry in encoding.items():
        if name not in group:
            raise ValueError(f"cannot append {name!r}: the store has no such variable")
        array = group[name]
        codec = inrcodec_of(array)
        if codec is None or codec.get_config() != codec_of(entry).get_config() \
                or tuple(array.chunks) != tuple(entry["chunks"]):
            raise ValueError(f"cannot append {name!r} with other settings than the store's "
                             "(codec, model or chunks): append with the same ones")
    for name, coord in ds.coords.items():
        if dim not in coord.dims and name in stored.coords and not coord.equals(stored[name]):
            raise ValueError(f"cannot append: coordinate {name!r} differs from the store's")


def _check_encodable(ds, stored, dim: str) -> None:
    """The new times are stored in the store's units exactly (hourly steps in a store whose
    times are in days would come back as days)."""
    from xarray.coding.times import decode_cf_datetime, encode_cf_datetime

    for name, var in ds.coords.items():
        if dim not in var.dims or var.dtype.kind != "M" or name not in stored.variables:
            continue
        units = stored[name].encoding.get("units")
        calendar = stored[name].encoding.get("calendar", "proleptic_gregorian")
        if units is None:
            continue
        values, dtype = var.values, stored[name].encoding.get("dtype")
        with warnings.catch_warnings():  # (floats where the units are too coarse: refused below)
            warnings.simplefilter("ignore")
            numbers, used, _ = encode_cf_datetime(values, units, calendar, dtype)
        back = decode_cf_datetime(np.asarray(numbers), units, calendar)
        # xarray writes integer times in finer units where the store's cannot hold them, into
        # an array that says the store's: sub-second times in seconds came back 1000x too late.
        if used != units or not np.array_equal(np.asarray(back, dtype=values.dtype), values):
            need = used.split()[0] if used != units else "finer units"
            hint = ("; compress the series again with --append-dim (it keeps times in seconds)"
                    if not units.startswith("seconds") else "")
            raise ValueError(f"cannot append: the store keeps {name!r} in {units!r}, which cannot "
                             f"hold the source's times exactly (they need {need}){hint}")


def _originals_name(name: str, start: int, end: int) -> str:
    return f"{name}.{start}.{end}"  # rows [start, end): never two different contents a name


def originals_of(key: str) -> tuple[str, int, int] | None:
    """(variable, first row, end row) of a kept array's name; None for a name not ours."""
    name, *rows = key.rsplit(".", 2)
    return (name, int(rows[0]), int(rows[1])) if len(rows) == 2 and all(
        r.isdigit() for r in rows) else None


def _finished(group, name: str, start: int, end: int, axis: int, chunk: int) -> bool:
    """Whether the rows of ``name`` up to ``end`` are all written and their originals kept:
    what an append leaves last (the originals are written last)."""
    from .store import stored_chunk

    last = end // chunk * chunk
    pending = group.get(PENDING)
    if end > last and (pending is None or _originals_name(name, last, end) not in pending):
        return False
    array = group[name]
    indices = [range(-(-n // c)) for n, c in zip(array.shape, array.chunks)]
    indices[axis] = range(start // chunk, indices[axis].stop)
    return all(stored_chunk(array, coords) is not None for coords in itertools.product(*indices))


def _pending_originals(group, name: str, start: int, end: int) -> np.ndarray:
    pending = group.get(PENDING)
    key = _originals_name(name, start, end)
    if pending is None or key not in pending:
        raise ValueError(f"cannot append {name!r}: the store's last chunk holds {end - start} "
                         "rows and their originals were not kept (the store was not written with "
                         "--append-dim): appending would re-encode them, adding error. Compress "
                         "the whole series again with --append-dim")
    return pending[key][...]


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
            if not same_values(new[name].values, back[name].isel(rows).values):
                raise OSError(f"{dest}: the appended rows of {name!r} read back different "
                              "from the source; report this")


def keep_originals(dest: str, tails: dict[str, Tail]) -> None:
    """After every chunk is written: keep the originals of each variable's new partial last
    chunk (none where it ends on a chunk boundary). The new ones are written before the old
    ones are deleted, under names that say their rows, so an interruption leaves the old ones
    whole (and ``plan`` finishes the append again)."""
    import zarr

    group = zarr.open_group(dest, mode="r+", use_consolidated=False)
    pending = group.require_group(PENDING)
    for tail in tails.values():
        total = tail.start + tail.values.shape[tail.axis]
        start = total // tail.chunk * tail.chunk
        key = _originals_name(tail.name, start, total)
        if total > start:  # written whole every time: an interrupted write is redone
            index = [slice(None)] * tail.values.ndim
            index[tail.axis] = slice(start - tail.start, None)
            rows = np.asarray(tail.values[tuple(index)].compute())
            array = pending.create_array(key, shape=rows.shape, dtype=rows.dtype,
                                         compressors=None, fill_value=None, overwrite=True)
            array[...] = rows
        for old in [k for k in pending.array_keys()
                    if k != key and (originals_of(k) or ("",))[0] == tail.name]:
            del pending[old]
    if _consolidated(Path(dest)):
        zarr.consolidate_metadata(dest)  # what a reader of consolidated metadata sees, kept true


def _consolidated(store: Path) -> bool:
    v3 = store / "zarr.json"
    return (store / ".zmetadata").exists() or (v3.exists() and "consolidated_metadata" in v3.read_text())
