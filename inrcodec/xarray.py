"""Zarr encodings for xarray Datasets, and warnings about what silently breaks a lossy codec."""

import math
import re
import warnings

import numpy as np

from .codecs.numcodecs import INRCodec
from .model import Model

MAX_CHUNK_BYTES = 2 ** 22  # a chunk holds at most about this much input (one patch tile more)
MIN_CHUNK_BYTES = 2 ** 16  # ... and at least this much, where the variable has it
MIN_CHUNKS = 16  # a variable that has the bytes for it is split into at least this many chunks
# Only a leading dimension whose name says time is grouped in a chunk by default: the slices
# along any other (levels, members, variables, whatever a file calls them: cfgrib's "hybrid",
# WRF's "bottom_top", ROMS's "s_rho") may be different fields. Issue 33: ERA-Interim's levels
# stacked two to a chunk took 7x the bytes of whole fields; probe 3: 7 humidity levels of
# 1e-2 to 1e-6 in a chunk kept its 40 dB floor over the chunk's range, their own at 22-38 dB.
TIME_NAMES = ("t", "date", "step", "lead", "record", "year", "month", "day", "hour", "season")
UNNAMED = re.compile(r"dim_\d+")  # xarray's name for an axis a numpy array did not name


class EncodingWarning(UserWarning):
    """A setting that would make a lossy store silently worse than the user expects."""


def chunks_for(shape: tuple[int, ...], itemsize: int, patch_shape: tuple[int, ...],
               dims: tuple[str, ...] | None = None) -> tuple[int, ...]:
    """Zarr chunks a data manager would choose: whole fields, grouped along time.

    The last axes (the model's patch axes: a horizontal field, or a volume) are kept whole up
    to ``MAX_CHUNK_BYTES`` (4 MiB), else tiled by whole patches as evenly as fits. At most one
    leading axis is grouped: the first whose name says time (``TIME_NAMES``; without names, the
    first); every other leading axis is one slice a chunk, so no chunk stacks levels, members
    or variables unless asked. The grouped axis takes a sixteenth of the
    variable a chunk, no more than 4 MiB (a task's memory, and what reading one field decodes)
    and no less than 64 KiB (each chunk's header and file, spread over many values); its last
    chunk is kept as full as a size down to 3/4 of that one allows.
    """
    d = len(patch_shape)
    field = _tiles(shape[-d:], patch_shape, MAX_CHUNK_BYTES // itemsize)
    lead = list(shape[:-d])
    field_bytes = math.prod(field) * itemsize
    fields = math.prod(lead) * math.prod(-(-n // t) for n, t in zip(shape[-d:], field))
    target = min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, fields * field_bytes // MIN_CHUNKS))
    chunks = [1] * len(lead)
    grouped = _grouped_axis(dims[:len(lead)] if dims is not None else None, len(lead))
    if grouped is not None:
        n, take = lead[grouped], max(1, min(lead[grouped], target // field_bytes))
        if take < n:  # the size, down to 3/4 of it, whose last chunk is fullest
            take = max(range(take - take // 4, take + 1), key=lambda t: ((n - 1) % t, t))
        chunks[grouped] = take
    return tuple(chunks) + field


def _tiles(field: tuple[int, ...], patch_shape: tuple[int, ...], most: int) -> tuple[int, ...]:
    """The whole field if it holds at most ``most`` values, else tiles of whole patches: the
    axis with the most patches per tile halved until a tile fits."""
    tiles = list(field)
    while math.prod(tiles) > most:
        counts = [-(-t // p) for t, p in zip(tiles, patch_shape)]
        axis = max(range(len(tiles)), key=lambda i: counts[i])
        if counts[axis] == 1:
            break
        tiles[axis] = -(-counts[axis] // 2) * patch_shape[axis]
    return tuple(min(t, n) for t, n in zip(tiles, field))


def _grouped_axis(dims, lead: int) -> int | None:
    if not lead:
        return None
    if dims is None:
        return 0
    names = [str(d).lower() for d in dims]
    if all(UNNAMED.fullmatch(n) for n in names):
        return 0
    timelike = [i for i, n in enumerate(names) if "time" in n or n in TIME_NAMES]
    return timelike[0] if timelike else None


def compressible(ds, model: Model, variables=None) -> list[str]:
    """``variables``, checked, or every floating variable with room for the model's patches
    but cell bounds and measures (``cell_bounds``, ``cell_measures``), which describe the grid
    and stay exact."""
    if variables is None:
        bounds = cell_bounds(ds) | cell_measures(ds)
        return [name for name, v in ds.data_vars.items()
                if np.dtype(v.dtype).kind == "f" and not integer_on_disk(v)
                and v.ndim >= model.ndim and v.size and name not in bounds]
    for name in variables:
        if name in ds.coords:
            raise ValueError(f"{name!r} is a coordinate, which is stored exactly; the data "
                             f"variables are {sorted(ds.data_vars)}")
        if name not in ds.data_vars:
            raise ValueError(f"no variable {name!r}; the dataset has {sorted(ds.data_vars)}")
        var = ds[name]
        if np.dtype(var.dtype).kind not in "fiu":
            raise TypeError(f"variable {name!r} is {var.dtype}: inrcodec stores floats and integers")
        if var.ndim < model.ndim:
            raise ValueError(f"variable {name!r} has {var.ndim} dimensions; the model fits "
                             f"{model.ndim}-D patches")
    return list(variables)


def integer_on_disk(var) -> str | None:
    """The integer dtype a variable has in its source file where xarray decoded it to floats
    only to mask its ``_FillValue`` (classes, counts, flags: not packed floats, which have a
    ``scale_factor`` or ``add_offset``), else None. Like any integer variable, it is stored
    exactly unless named (an int8 land-cover class had come back as 3.035)."""
    dtype = var.encoding.get("dtype")
    if dtype is None or np.dtype(dtype).kind not in "iu" or \
            {"scale_factor", "add_offset"} & (var.encoding.keys() | var.attrs.keys()):
        return None
    return str(np.dtype(dtype))


def unpacked(var) -> str | None:
    """What a compressed variable that its source packs (integers with a ``scale_factor`` or
    ``add_offset``) is stored as instead, for the report; None where it is not packed. The codec
    compresses the values xarray unpacks them to: the packing is not kept (a netCDF written
    from the store holds floats)."""
    enc = var.encoding
    packing = {k: enc[k] for k in ("scale_factor", "add_offset", "_FillValue") if k in enc}
    if not {"scale_factor", "add_offset"} & packing.keys():
        return None
    given = ", ".join(f"{k} {v:g}" if isinstance(v, int | float | np.number) else f"{k} {v}"
                      for k, v in packing.items())
    return (f"packed in the source as {np.dtype(enc.get('dtype', var.dtype))} ({given}): "
            f"compressed as the {var.dtype} values it unpacks to, and stored so")


def source_notes(var, field_dims: int) -> list[str]:
    """What the report says of a compressed variable whose source holds something the store
    keeps otherwise or a reader may trip on: its packing (``unpacked``), a missing-value marker
    other than NaN, a CF valid range that decoded values may leave, fields across time."""
    packed = unpacked(var)
    notes = [] if packed is None else [packed]
    enc = var.encoding
    markers = {k: enc.get(k, var.attrs.get(k)) for k in ("_FillValue", "missing_value")}
    markers = {k: v for k, v in markers.items() if v is not None and not _is_nan(v)}
    if markers and packed is None:  # (a packing's note names its _FillValue)
        notes.append(f"its missing values, marked {_given(markers)} in the source, are stored as NaN "
                     "(the store keeps no marker: a netCDF written from it marks them NaN)")
    valid = {k: var.attrs[k] for k in ("valid_range", "valid_min", "valid_max") if k in var.attrs}
    if valid and packed is not None:  # CF gives a packed variable's valid range packed
        notes.append(f"its valid range ({_given(valid)}) is in the source's packed units, "
                     "which the store does not keep: the attribute no longer describes the "
                     "stored floats")
    elif valid:
        notes.append(f"its valid range ({_given(valid)}) stays an attribute, but decoded "
                     "values may lie outside it by up to the promise's error (a value at its "
                     "edge, 0 in a fraction, comes back a little past it); CF readers that mask "
                     "by it, such as netCDF4-python, hide those values: clip them where that "
                     "matters")
    dims = [str(d).lower() for d in var.dims]
    timelike = [d for d in dims[-field_dims:] if "time" in d or d in TIME_NAMES]
    if timelike and len(dims) > field_dims:
        fields = " x ".join(map(str, var.dims[-field_dims:]))
        notes.append(f"its fields are its last {field_dims} dimensions ({fields}), across "
                     f"{timelike[0]}: each chunk holds such planes and each keeps the promise; "
                     f"transpose the source to put {timelike[0]} first for horizontal fields")
    return notes


def _is_nan(value) -> bool:
    try:
        return bool(np.isnan(np.asarray(value, np.float64)).all())
    except (TypeError, ValueError):  # a marker that is no number (a damaged file's) is one
        return False


def _given(attributes: dict) -> str:
    """"name value" pairs, numbers as %g ("valid_range [0, 1]", "_FillValue 1e+20")."""
    def text(value) -> str:
        try:
            values = [f"{float(x):g}" for x in np.ravel(np.asarray(value, np.float64))]
        except (TypeError, ValueError):
            return repr(value)
        return values[0] if np.ndim(value) == 0 else f"[{', '.join(values)}]"

    return ", ".join(f"{k} {text(v)}" for k, v in attributes.items())


def cell_bounds(ds) -> set[str]:
    """The variables a variable names as its CF ``bounds`` (or ``climatology``), in its
    attributes or its encoding (where xarray moves a decoded time's): the edges of coordinate
    cells, (n, 2) or (y, x, 4), which a lossy codec would move by degrees (uwnd's latitude
    bounds came back 5 degrees off under the default floor)."""
    return {str(v.attrs.get(key) or v.encoding.get(key)) for v in ds.variables.values()
            for key in ("bounds", "climatology") if v.attrs.get(key) or v.encoding.get(key)}


def cell_measures(ds) -> set[str]:
    """The variables a variable names in its CF ``cell_measures`` ("area: areacella volume:
    volcello"): cell areas and volumes, which weigh every sum over the grid (a 40 dB floor had
    moved a cell's area by 2%, and the grid's total by 1.4e-4)."""
    return {name for v in ds.variables.values()
            for name in str(v.attrs.get("cell_measures") or v.encoding.get("cell_measures") or
                            "").split() if not name.endswith(":")}


def encoding_for(ds, model: "Model | str" = "linear-2d", zarr_format: int = 2,
                 variables=None, chunks: dict | None = None, warn_partial: bool = True,
                 **settings) -> dict:
    """``to_zarr`` encoding that compresses every floating variable of ``ds`` with inrcodec.

    Variables with fewer dimensions than the model's patches are left alone (coordinates), and
    so are cell bounds (``cell_bounds``). ``chunks`` sets the Zarr chunks of some variables
    (default: :func:`chunks_for`). ``settings`` go to the codec (``latent_bits``, ``inner_steps``). Warns
    (:class:`EncodingWarning`) about a non-NaN ``_FillValue`` attribute (one in the encoding, as
    a netCDF source has, is dropped: its NaNs are stored as NaNs), dask chunks that straddle
    Zarr chunks, variables that were read from an inrcodec store (compressing them again
    adds a second round of error), and a last chunk along time that is partial (``warn_partial``:
    appending to it with xarray would re-encode it from decoded values).
    """
    codec = INRCodec(model, **settings)
    encoding = {}
    for name in compressible(ds, codec.model, variables):
        var = ds[name]
        _warn_about(name, var)
        shape = (chunks or {}).get(name) or chunks_for(var.shape, np.dtype(var.dtype).itemsize,
                                                       codec.model.patch_shape, var.dims)
        entry = {"chunks": tuple(shape)}
        if zarr_format == 2:
            entry["compressors"] = codec
        else:
            from .codecs.zarr3 import INRSerializer

            entry["serializer"] = INRSerializer(model, **settings)
            entry["compressors"] = None
        if warn_partial:
            _warn_about_a_partial_end(name, var, entry["chunks"])
        encoding[name] = entry
    # One rechunking that suits every variable: along each dimension, a multiple of each of
    # their Zarr chunks (each variable's own advice had broken the others' writes: probe 4).
    along = {}
    for name, entry in encoding.items():
        for dim, n, size in zip(ds[name].dims, entry["chunks"], ds[name].shape):
            along[dim] = min(math.lcm(along.get(dim, 1), n), size)
    for name, entry in encoding.items():
        var = ds[name]
        if var.chunks is not None and not _aligned(var.chunks, entry["chunks"]):
            warnings.warn(f"{name!r}: dask chunks {tuple(c[0] for c in var.chunks)} straddle the "
                          f"Zarr chunks {entry['chunks']}: a partial write decodes, merges and "
                          "re-encodes a chunk, adding error each time. Rechunk with "
                          f"ds.chunk({ {dim: along[dim] for dim in var.dims} }) first",
                          EncodingWarning, stacklevel=2)
    return encoding


def _warn_about(name, var) -> None:
    # A _FillValue in the encoding (a netCDF source's, decoded to NaN when it was read) is
    # dropped: to_zarr replaces a variable's encoding with the one given, so NaNs are stored as
    # NaNs. One in the attributes is applied to the data before the codec sees it.
    fill = var.attrs.get("_FillValue")
    if fill is not None and not (np.ndim(fill) == 0 and np.issubdtype(np.asarray(fill).dtype,
                                                                    np.floating) and np.isnan(fill)):
        warnings.warn(f"{name!r} has _FillValue {fill!r} in its attributes: it is applied to "
                      "the data before the codec sees it, and after lossy decoding missing values "
                      "come back near it rather than equal to it and are no longer masked. Mask "
                      f"them as NaN first: ds[{name!r}] = ds[{name!r}].where(ds[{name!r}] != "
                      f"{fill!r}), and drop the attribute", EncodingWarning,
                      stacklevel=3)
    compressors = var.encoding.get("compressors") or ()
    serializer = var.encoding.get("serializer")
    # The attributes say so where the storage encoding is gone (``compress`` drops a source
    # store's: it had recompressed an inrcodec store without a word).
    if any(getattr(c, "codec_id", None) == INRCodec.codec_id for c in compressors) or (
            type(serializer).__name__ == "INRSerializer") or var.attrs.get("lossy_compression"):
        warnings.warn(f"{name!r} was read from a lossily compressed store (its encoding or its "
                      "lossy_compression attributes say so): compressing it again adds a second "
                      "round of error, and the new promise is about the values as decoded, not as "
                      "first written", EncodingWarning, stacklevel=3)


def _warn_about_a_partial_end(name, var, chunks) -> None:
    for dim, n, c in zip(var.dims, var.shape, chunks):
        if "time" in str(dim).lower() and n % c:
            warnings.warn(f"{name!r}: the last chunk along {dim} holds {n % c} of {c} rows. "
                          f"Appending with xarray's to_zarr(append_dim={str(dim)!r}) would decode "
                          "and re-encode it, adding a second round of error (up to twice a "
                          f"bound): append with `inrcodec compress NEW STORE --append-dim {dim}`, "
                          f"which keeps that chunk's originals, or in whole chunks of {c}",
                          EncodingWarning, stacklevel=3)


def _aligned(dask_chunks, zarr_chunks) -> bool:
    """Whether every dask block boundary falls on a Zarr chunk boundary (the last may be short)."""
    return all(all(c % z == 0 for c in sizes[:-1]) for sizes, z in zip(dask_chunks, zarr_chunks))


def check_chunks(ds, names: list[str], chunks: dict) -> None:
    """Refuse, in a line, chunks for a variable that is not compressed, of the wrong number of
    dimensions, or with a size below 1."""
    for name, shape in chunks.items():
        if name not in names:
            held = "it is not compressed" if name in ds.variables else "the source has no such variable"
            raise ValueError(f"--chunks names {name!r}, but {held}; compressed: {', '.join(names)}")
        dims = ds[name].dims
        if len(shape) != len(dims):
            raise ValueError(f"--chunks gives {len(shape)} sizes for {name!r}, which has "
                             f"{len(dims)} dimensions ({', '.join(map(str, dims))})")
        if min(shape) < 1:
            raise ValueError(f"--chunks sizes for {name!r} must be at least 1, not {tuple(shape)}")


def within_shape(chunks: tuple[int, ...], var, append_dim: str | None = None) -> tuple[int, ...]:
    """``chunks`` cut to ``var``'s sizes but along ``append_dim`` (which grows): Zarr pads a
    chunk larger than its array to its whole size, and the codec codes what it pads (a chunk of
    100^4 for 25,920 values took 258 s to encode)."""
    return tuple(c if dim == append_dim else min(c, max(n, 1))
                 for c, n, dim in zip(chunks, var.shape, var.dims))


def settings_per_variable(names: list[str], settings: dict, promises: dict) -> dict:
    """Each variable's codec settings: ``settings``, with its own promise in place of theirs."""
    from .modes import PROMISES

    unknown = sorted(set(promises) - set(names))
    if unknown:
        raise ValueError(f"a promise names {', '.join(map(repr, unknown))}, not among the "
                         f"compressed variables ({', '.join(names)})")
    out = {}
    for name in names:
        own = promises.get(name, {})
        common = {k: v for k, v in settings.items() if not (own and k in PROMISES)}
        out[name] = {**common, **own}
    return out


def codec_of(entry: dict):
    """The INRCodec of an encoding entry (Zarr format 2's compressor, or format 3's serializer's)."""
    codec = entry.get("serializer") or entry["compressors"]
    return getattr(codec, "codec", codec)
