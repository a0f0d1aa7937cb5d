"""The destination store: whether it exists and may be written, creating it (metadata,
coordinates, the variables stored as they are, checked after writing), what an existing one
holds (models, chunks), and whether a run may resume into it."""

import hashlib
import uuid
from pathlib import Path

import numpy as np

from .store import inrcodec_of
from .xarray import codec_of, integer_on_disk


def started(dest: str) -> bool:
    """Whether ``dest`` holds something: a missing or empty folder is a new destination."""
    path = Path(dest)
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def resumed_format(dest: str, asked: int | None) -> int:
    """The Zarr format a run into the started store ``dest`` writes: the store's own. Another
    one asked for is refused: the run carried on in the store's and said nothing."""
    import zarr

    try:
        found = zarr.open_group(dest, mode="r").metadata.zarr_format
    except Exception:  # not a Zarr store: check_resumable says so, in its own words
        return asked or 2
    if asked is not None and asked != found:
        raise ValueError(f"{dest} is a Zarr format {found} store: resume it without "
                         f"--zarr-format (or with {found}), or delete it to start over")
    return found


def check_writable(dest: str) -> None:
    """Refuse, in a line, a local destination this process cannot write (before any worker
    starts and fails on it)."""
    if "://" in dest:
        return  # an fsspec URL: its store says so at the first write
    path = Path(dest)
    folder = path if path.is_dir() else next((p for p in path.parents if p.exists()), Path("."))
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write to {dest}: it is a file, not a Zarr store")
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write to {dest}: {folder} is a file, not a folder")
    if not path.exists() and not path.parent.is_dir():  # a typo is not a tree to create
        raise FileNotFoundError(f"cannot write to {dest}: its folder {path.parent} does not exist; "
                                "create it first")
    probe = folder / f".inrcodec-probe-{uuid.uuid4().hex}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise PermissionError(f"cannot write to {dest}: {folder} is not writable "
                              f"({e.strerror or e})") from None


def write_metadata(ds, dest: str, encoding: dict, zarr_format: int) -> None:
    """Create the store: array metadata, coordinates and the variables left uncompressed (all
    loaded first: ``compute=False`` writes no lazy variable's values, coordinates included)."""
    ds = ds.copy()
    for name in ds.variables:
        if not {"compressors", "serializer"} & set(encoding.get(name, {})):  # not inrcodec's
            ds.variables[name].load()
    mode = "w" if Path(dest).is_dir() else "w-"  # an empty folder (see started)
    ds.to_zarr(dest, mode=mode, compute=False, encoding=encoding, zarr_format=zarr_format,
               consolidated=True)


def uncompressed(ds, encoding: dict, model) -> dict:
    """Every variable and coordinate stored as it is (losslessly), and why."""
    why = {}
    for name, var in ds.variables.items():
        if name in encoding:
            continue
        kind = np.dtype(var.dtype).kind
        if name in ds.coords:
            why[name] = "coordinate"
        elif kind not in "fiu":
            why[name] = f"{var.dtype}: not numbers inrcodec compresses"
        elif var.size == 0:
            why[name] = "no values"
        elif var.ndim < model.ndim:
            why[name] = f"{var.ndim}-D, fewer dimensions than the model's {model.ndim}-D patches"
        elif kind in "iu":
            why[name] = f"integer ({var.dtype}): --var {name} compresses it"
        elif on_disk := integer_on_disk(var):
            why[name] = f"integer on disk ({on_disk}, with a _FillValue): --var {name} compresses it"
        else:
            why[name] = "not named by --var"
    return why


def provenance(codec, attrs: dict | None = None) -> dict:
    """Attributes that say, to a reader without inrcodec, how a variable was compressed and what
    it keeps (in the spirit of CF's quantization attributes). ``attrs``: the source variable's,
    where an earlier lossy compression's promise, which these replace, is carried into the new
    one (a store compressed again had said "within 0.05 of the original" of values 0.1 away)."""
    from . import __version__
    from .coding.container import VERSION

    promise = codec.mode.promise
    if earlier := (attrs or {}).get("lossy_compression_promise"):
        promise += f" (that original was itself decoded from lossy compression: {earlier})"
    return {"lossy_compression": "inrcodec",
            "lossy_compression_implementation": f"inrcodec {__version__}, bitstream version {VERSION}",
            "lossy_compression_promise": promise,
            "lossy_compression_model": codec.model_hash}


def check_lossless(ds, dest: str, names) -> None:
    """Read back every variable stored as it is: nothing a user wrote is dropped or changed
    silently (a lazy coordinate once came back as all NaT). Characters are read as stored:
    xarray joins an array of single characters along its last dimension into strings when it
    reads a Zarr store (``concat_characters``), but not when it reads the netCDF it came from."""
    import xarray as xr

    with xr.open_zarr(dest, concat_characters=False) as back:
        for name in names:
            if name not in back.variables:
                raise OSError(f"{dest}: {name!r} was not written; delete the store and report this")
            if not same_values(ds[name].values, back[name].values):
                raise OSError(f"{dest}: {name!r} reads back different from the source; delete "
                              "the store and report this")


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and values, NaN (and NaT) equal to itself."""
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fcmM")


def compressed_arrays(dest: str) -> list[str]:
    """The names of the arrays a store compresses with inrcodec (none where it is no store)."""
    import zarr

    try:
        group = zarr.open_group(dest, mode="r", use_consolidated=False)
    except Exception:  # noqa: BLE001 (not a Zarr store: its callers say so in their words)
        return []
    return sorted(name for name, array in group.arrays() if inrcodec_of(array) is not None)


def _missing(dest: str, name: str) -> str:
    """Why a store this run resumes lacks ``name``: it was started without it (what it does
    compress), or not by this command at all."""
    if held := compressed_arrays(dest):
        return (f"{dest} was started without {name!r} (it compresses {', '.join(held)}): name "
                "those with --var, or choose another destination for the rest")
    return (f"{dest} exists but holds no array {name!r}: it was not started by this command; "
            "choose another destination")


def stored_models(dest: str, names: list[str]) -> dict:
    """The model each variable of an existing store was written with, by name."""
    import zarr

    models = {}
    for name in names:
        try:
            codec = inrcodec_of(zarr.open_array(dest, path=name, mode="r"))
        except (FileNotFoundError, KeyError, ValueError) as e:
            raise ValueError(_missing(dest, name)) from e
        if codec is None:
            raise ValueError(f"{dest} holds {name!r} without inrcodec: choose another destination")
        models[name] = codec.model
    return models


def stored_chunks(dest: str, names: list[str]) -> dict:
    """The chunks of the arrays an existing store holds, by name."""
    import zarr

    found = {}
    for name in names:
        try:
            found[name] = tuple(zarr.open_array(dest, path=name, mode="r").chunks)
        except (FileNotFoundError, KeyError, ValueError):
            pass
    return found


def check_resumable(ds, dest: str, encoding: dict) -> None:
    """Refuse to resume into a store that was started with another source or other settings."""
    import zarr

    for name, entry in encoding.items():
        try:
            array = zarr.open_array(dest, path=name, mode="r")
        except (FileNotFoundError, KeyError, ValueError) as e:
            raise ValueError(_missing(dest, name)) from e
        codec = inrcodec_of(array)
        if (codec is None or codec.get_config() != codec_of(entry).get_config()
                or array.shape != ds[name].shape or tuple(array.chunks) != entry["chunks"]):
            raise ValueError(f"{dest} was started with other settings for {name!r} (codec, shape "
                             "or chunks): resume with the same ones, or delete it to start over")
        stored = array.attrs.get(FINGERPRINT)  # (None: a store started before it was kept)
        if stored is not None and stored != ds[name].attrs.get(FINGERPRINT):
            raise ValueError(f"{dest} was started from another source: the first chunk of "
                             f"{name!r} (its values or coordinates) differs; resume with the same "
                             "source, or delete it to start over")
    # A variable the store compresses that this run does not name (a narrower --var): the
    # report would call it stored losslessly, though its chunks are the first run's lossy ones.
    for name in compressed_arrays(dest):
        if name not in encoding:
            raise ValueError(f"{dest} was started compressing {name!r} too, which this run does "
                             "not name: resume with the same variables (--var), or delete it to "
                             "start over")


# A digest of each compressed variable's first chunk, kept in its attributes: a run resumed from
# another file on the same grid had filled the rest of a store with it (two sources in one).
FINGERPRINT = "inrcodec_source_first_chunk"


def fingerprint(var, chunks: tuple[int, ...]) -> dict:
    """``{FINGERPRINT: digest}`` of ``var``'s first chunk of ``chunks``: its values and its
    coordinates (which an append never changes), byte order aside."""
    first = var.isel({dim: slice(0, n) for dim, n in zip(var.dims, chunks)})
    digest = hashlib.sha256(str(first.dtype).encode())
    for part in (first, *(first[dim] for dim in first.dims if dim in first.coords)):
        values = np.asarray(part.values)
        if values.dtype.kind == "O":  # cftime dates, strings
            digest.update(repr(values.tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(values, values.dtype.newbyteorder("=")).tobytes())
    return {FINGERPRINT: digest.hexdigest()[:32]}
