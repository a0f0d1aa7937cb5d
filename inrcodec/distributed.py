"""Compress datasets into Zarr on a dask.distributed cluster; chunks are fitted in the workers.

The client writes the store's metadata (and the small variables inrcodec does not compress),
then every Zarr chunk of every compressed variable becomes one task, all submitted at once: the
worker reads its block of the source, encodes it (unless the store already holds it: that is
how an interrupted run resumes), reads the stored chunk back and returns a few statistics (its
errors, its bytes and kind, whether it kept the codec's promise). Workers need inrcodec
installed and the source and destination paths reachable; the codec config in the array
metadata names the model (a bundled one by its hash; any other travels inside it).
"""

import dataclasses
import logging
import math
import os
import re
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import append, classic, error_plots
from .compress_report import Report, VariableReport
from .destination import (
    check_lossless,
    check_resumable,
    check_writable,
    fingerprint,
    provenance,
    resumed_format,
    started,
    stored_chunks,
    stored_models,
    uncompressed,
    write_metadata,
)
from .measure import rms
from .model import DEFAULT, resolve
from .store import chunk_kind, inrcodec_of, stored_chunk
from .training_windows import open_source, source_paths, subgroups
from .xarray import (
    check_chunks,
    chunks_for,
    codec_of,
    compressible,
    encoding_for,
    settings_per_variable,
    source_notes,
    within_shape,
)

__all__ = ["Report", "VariableReport", "compress"]


def compress(source, dest, *, variables=None, model=None, zarr_format: int | None = None,
             chunks: dict | None = None, scheduler: str | None = None, n_workers: int = 2,
             torch_threads: int = 1, progress: bool = True, plots: str | None = None,
             adapt: float | None = None, learn: bool = True, promises: dict | None = None,
             append_dim: str | None = None, group: str | None = None, **settings) -> Report:
    """Compress ``source`` into the Zarr store ``dest`` on a dask cluster, resuming if it exists.

    ``scheduler`` is the address of a running scheduler; without it a LocalCluster of
    ``n_workers`` single-threaded worker processes is started (and closed afterwards). Each
    task uses ``torch_threads`` threads. ``chunks`` overrides the Zarr chunks per variable
    (``{"t2m": (12, 37, 49)}``); by default a resumed store keeps its own, and a new one gets
    :func:`inrcodec.xarray.chunks_for`'s. ``plots`` is a folder for each variable's error map
    and histogram (error_plots.py), computed on the cluster. ``adapt`` is a time budget in
    minutes for learning the source first (adapt.py): each variable gets its share of it, its
    own fine-tuned ``model``, embedded in its metadata. Without it, and with ``learn``, each
    variable gets a linear model learned from a sample of its own chunks where the held-out end
    of the archive shows that it pays (learn.py); a resumed or appended store keeps the models
    it was started with. ``settings`` go to the codec; ``promises`` gives some variables their own
    promise (``{"t2m": {"max_error": 0.05}, "z": {"max_error": 10}}``), in place of the one in
    ``settings``. Every variable and coordinate not compressed is stored losslessly, checked
    after writing, and the report lists them and why. ``append_dim`` extends an existing store
    along that dimension with the source's rows (append.py: no stored chunk is decoded and
    re-encoded; the originals of a partial last chunk are kept for the next append), or starts
    a store that will grow so. ``group``: compress that group of a netCDF-4 file or Zarr store
    ("/": its root); a source with groups is refused without it, since one run compresses one.
    """
    try:
        from distributed import Client
    except ImportError as e:
        raise ImportError(f"compressing on a cluster needs dask.distributed ({e}): "
                          "pip install 'dask[distributed]'") from e
    from tqdm.auto import tqdm

    begun = time.perf_counter()
    dest = str(dest)
    check_writable(dest)
    if plots is not None:
        error_plots.check()
    ds = _open(source, group)
    named = model if model is not None else DEFAULT
    resolved = resolve(named)
    names = compressible(ds, resolved, variables)
    check_chunks(ds, names, chunks or {})
    settings_of = settings_per_variable(names, settings, promises or {})
    resuming = started(dest)
    zarr_format = resumed_format(dest, zarr_format) if resuming else zarr_format or 2
    kept = stored_chunks(dest, names) if resuming else {}
    # Adapting keeps the patch shape, so the chunks can be chosen first (and adapted to).
    chunks = {name: kept.get(name) if name in kept and not (chunks or {}).get(name) else
              within_shape(tuple((chunks or {}).get(name) or chunks_for(
                  ds[name].shape, ds[name].dtype.itemsize, resolved.patch_shape, ds[name].dims)),
                  ds[name], append_dim)
              for name in names}
    models, adaptations, learnings = {name: resolved for name in names}, {}, {}
    if resuming:
        models = stored_models(dest, names)
        for name, stored in models.items():
            # A model given for a store written with another is a mistake to refuse, not to
            # override: the store keeps its own (learned or adapted ones included).
            if model is not None and adapt is None and stored.hash != resolved.hash:
                raise ValueError(f"{dest} holds {name!r} written with other settings: model "
                                 f"{stored.card.get('name', stored.hash[:12])} (leave --model "
                                 "out to resume with it)")
    elif adapt is not None:
        from .adapt import NotAdapted, NoTimeToTrain, adapt as fine_tune
        from .learn import embedding_pays

        # Each variable gets an even share of what is left, less the longest time judging an
        # adapted model took so far: what one overran (by up to adapt.MARGIN_S) or spent
        # judging is taken from the later shares, so the whole keeps the budget and a margin
        # (each variable had had a fixed share, and the judging came on top: probe 4).
        deadline, judging = time.monotonic() + 60 * adapt, 0.0
        for i, name in enumerate(names):
            share = (deadline - time.monotonic() - judging) / 60 / (len(names) - i)
            try:
                if share <= 0:
                    raise NoTimeToTrain("the variables before it took the whole budget")
                adapted = fine_tune(ds, name, share, init=resolved, chunks=chunks[name],
                                    progress=progress)
            except NoTimeToTrain as e:
                if i == 0:  # too small a budget for any: said before anything is spent
                    raise ValueError(f"--adapt {adapt:g} minutes, a share of {share:.2g} for each "
                                     f"of {len(names)} variables: {e}") from None
                adaptations[name] = NotAdapted(resolved, str(e))
                continue
            clock = time.monotonic()
            if adapted.kept and (unpaid := embedding_pays(ds[name], chunks[name], settings_of[name],
                                                          resolved, adapted.model)):
                adapted = dataclasses.replace(adapted, model=resolved, kept=False, unpaid=unpaid)
            judging = max(judging, time.monotonic() - clock)
            adaptations[name], models[name] = adapted, adapted.model
    elif learn:
        from .learn import learn_archive

        for name in names:
            learnings[name] = learn_archive(ds, name, resolved, chunks[name], settings_of[name],
                                            progress=progress,
                                            start_name=named if isinstance(named, str) else None)
            if learnings[name].kept:
                models[name] = learnings[name].model
    # One dask block per Zarr chunk: every task writes whole chunks, never part of one.
    ds = ds.assign({name: ds[name].chunk(dict(zip(ds[name].dims, chunks[name])))
                    for name in names})
    encoding = {}
    for name in names:
        encoding.update(encoding_for(ds, models[name], zarr_format=zarr_format, variables=[name],
                                     chunks=chunks, warn_partial=False, **settings_of[name]))
    ds = ds.assign({name: ds[name].assign_attrs(provenance(codec_of(encoding[name]),
                                                           ds[name].attrs),
                                                **fingerprint(ds[name], chunks[name]))
                    for name in encoding})
    lossless = uncompressed(ds, encoding, resolved)
    notes = {name: found for name in encoding if (found := source_notes(ds[name], resolved.ndim))}
    tails, grow = {}, False
    if append_dim is not None and resuming:
        tails, grow = append.plan(ds, dest, append_dim, encoding)
    elif resuming:
        check_resumable(ds, dest, encoding)
    elif append_dim is not None:
        tails = append.whole(ds, append_dim, encoding)
    # Every chunk of a new store's variables; of an append, those of the rows it writes.
    blocks = [(name, block, coords) for name, tail in tails.items()
              for block, coords in tail.blocks(encoding[name]["chunks"])]
    blocks += [(name, block, block.key[1:]) for name in encoding
               if name not in tails and not (append_dim is not None and resuming)
               for block in ds[name].data.to_delayed().ravel()]
    total = len(blocks)
    bar = tqdm(total=total, disable=not progress, desc="starting", unit="chunk")
    try:
        if not resuming:
            bar.set_description("writing metadata")
            grows = append.time_encoding(ds, append_dim) if append_dim is not None else {}
            write_metadata(ds, dest, {**encoding, **grows}, zarr_format)
            check_lossless(ds, dest, lossless)
        elif append_dim is None:  # resumed: what an interrupted or refused run left is checked again
            check_lossless(ds, dest, lossless)
        elif tails:
            bar.set_description("appending")
            append.drop_rewritten_chunks(dest, tails)
            if grow:
                append.extend(ds, dest, append_dim, encoding)
        bar.set_description("starting the cluster")
        with _cluster(scheduler, n_workers) as address, Client(address) as client:
            bar.set_description("submitting")
            submitted = time.perf_counter()
            futures = client.compute([_compress_block(block, dest, name, torch_threads, coords,
                                                      ds[name].dims)
                                      for name, block, coords in blocks])
            bar.set_description("compressing")
            written = {name: encoding[name] for name, *_ in blocks}
            reports = _collect(client, dict(zip(futures, (name for name, *_ in blocks))), written,
                               bar)
            if tails:
                append.keep_originals(dest, tails)
            seconds = time.perf_counter() - submitted
            if plots is not None:
                bar.set_description("plotting errors")
                drawn = error_plots.write(ds, dest, {name: r.max_abs_error for name, r in
                                                     reports.items()}, plots)
    finally:
        bar.close()  # before whatever says why it stopped
    report = Report.of(dest, ds, reports, seconds, submitted - begun)
    report.plots = drawn if plots is not None else []
    report.adaptations = adaptations
    report.learnings = learnings
    report.lossless = lossless
    report.notes = notes
    report.created = not resuming
    if append_dim is not None and resuming:
        report.appended = {name: (ds.sizes[append_dim], append_dim) for name in reports}
    return report


def _collect(client, futures: dict, encoding: dict, bar) -> dict:
    """Every task's statistics, per variable, as they come; on an error or an interrupt the
    other tasks are cancelled and the cluster's logs silenced, so that one line says why."""
    from distributed import as_completed

    reports = {name: VariableReport(mode=codec_of(entry).mode) for name, entry in encoding.items()}
    try:
        for future in as_completed(futures):
            reports[futures[future]].add(future.result())
            bar.update()
    except BaseException:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        client.cancel(list(futures))
        raise
    return reports


@contextmanager
def _cluster(scheduler: str | None, n_workers: int):
    """The scheduler's address: the one given, or a LocalCluster's, closed afterwards.

    The cluster's processes start with SIGINT ignored (where this is the main thread), so that
    Ctrl-C interrupts the client alone: the workers are stopped by closing the cluster, not by
    five tracebacks of their own."""
    if scheduler:
        yield scheduler
        return
    from distributed import LocalCluster

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.CRITICAL)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _open(source, group: str | None = None):
    """The source as one Dataset (its ``group``: "/" for the root); files that cannot be combined
    into one are refused in a line that says what they disagree on, and so are groups the
    command would leave out (a netCDF-4 file's groups had been dropped without a word)."""
    import xarray as xr

    paths = [] if isinstance(source, xr.Dataset) else source_paths(source)
    for path in paths:  # (Zarr's word for a folder of files was "No group found in store")
        folder = Path(path)
        if folder.is_dir() and not any((folder / key).exists()
                                       for key in ("zarr.json", ".zgroup", ".zarray")):
            raise ValueError(f"{path} is a folder, not a Zarr store: give its files (such as "
                             f"'{folder / '*.nc'}', quoted) or a store")
    if paths and group is None and (inside := subgroups(paths[0])):
        raise ValueError(f"{paths[0]} holds groups ({', '.join(inside)}) beside its root, which "
                         "one run does not compress together: give --group / for the root's "
                         "variables alone, or --group NAME for a group's (a store each)")
    group = None if group in (None, "/", "") else group.strip("/")
    if paths and group is not None:  # (xarray's word for a group a file lacks is its name alone)
        parent, _, leaf = group.rpartition("/")
        if leaf not in (inside := subgroups(paths[0], parent or None)):
            raise ValueError(f"{paths[0]} has no group {group!r}: "
                             + (f"its groups are {', '.join(inside)}" if inside else "it has none"))

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "In a future version of xarray", FutureWarning)
        warnings.filterwarnings("ignore", "Increasing number of chunks")
        try:
            return without_storage(open_source(source, group))
        except FileNotFoundError:
            raise
        except OSError as e:  # netCDF's "[Errno 22] Invalid argument" for a damaged file
            raise ValueError(f"cannot read {e.filename or ', '.join(paths)}: xarray cannot open "
                             f"it as netCDF, GRIB or Zarr ({e.strerror or e})") from None
        except (xr.MergeError, ValueError) as e:
            if len(paths) < 2:
                raise
            raise ValueError(_disagreement(paths, e)) from None


# How a Zarr source stored its arrays: the destination's format and inrcodec decide that (a
# format-3 source's serializer refused by a format-2 store, a format-2 source's Blosc by a
# format-3 one). What the values mean (dtype, units, calendar, fill value) is kept.
STORAGE_ENCODING = ("chunks", "preferred_chunks", "compressor", "compressors", "filters",
                    "serializer", "shards", "fill_value", "chunk_key_encoding",
                    "dimension_separator", "write_empty_chunks", "object_codec")


def without_storage(ds):
    """The dataset with its variables' ``STORAGE_ENCODING`` dropped (a copy)."""
    ds = ds.copy()
    for var in ds.variables.values():
        var.encoding = {k: v for k, v in var.encoding.items() if k not in STORAGE_ENCODING}
    return ds


def _disagreement(paths: list, error: Exception) -> str:
    """One line: what the files disagree on, and the data variables of each."""
    import xarray as xr

    quoted = (re.findall(r"variable '([^']+)'", str(error))  # (a merge's, an exact join's)
              or re.findall(r"coordinates \(dimensions\): '([^']+)'", str(error)))
    what = (f"they disagree on {quoted[0]!r}" if quoted
            else f"xarray says: {str(error).splitlines()[0].rstrip('.')}")
    held = []
    for path in paths[:4]:
        with xr.open_dataset(path) as ds:
            held.append(f"{Path(path).name} has {', '.join(sorted(map(str, ds.data_vars)))}")
    more = f" (and {len(paths) - 4} more)" if len(paths) > 4 else ""
    return (f"the source files cannot be combined into one dataset: {what} "
            f"({'; '.join(held)}{more}); compress each file, or each set of files that "
            "share their coordinates, into a store of its own")


def _compress_block(block, dest, name, torch_threads, chunk_coords, dims):
    import dask

    return dask.delayed(_compress_in_worker, pure=False)(block, dest, name, torch_threads,
                                                          chunk_coords, tuple(map(str, dims)))


def _limit_torch_threads(threads: int) -> None:
    """torch's threads in this worker: set now where torch is loaded, else when it is (torch
    reads OMP_NUM_THREADS as it loads). A worker encoding with a linear model never loads
    torch, which takes seconds and hundreds of MB a worker."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)


def _compress_in_worker(values: np.ndarray, dest: str, name: str, torch_threads: int,
                        chunk_coords: tuple[int, ...], dims: tuple = ()) -> dict:
    import zarr

    _limit_torch_threads(torch_threads)
    array = zarr.open_array(dest, path=name, mode="r+")
    region = tuple(slice(c * n, c * n + s) for c, n, s in zip(chunk_coords, array.chunks, values.shape))
    stored = stored_chunk(array, chunk_coords)
    encoded = stored is None
    if encoded:
        try:
            array[region] = values
        except ValueError as e:  # (an Inf, say): which variable and where, and what is left
            where = ", ".join(f"{d} {r.start}-{r.stop - 1}" for d, r in zip(dims, region))
            then = ("fix the source and run the same command again to resume" if any(chunk_coords)
                    else f"fix the source, delete {dest} (a resumed run knows its source by this "
                         "first chunk) and run the command again")
            raise ValueError(f"{name!r} at {where}: {e}. Other chunks may be stored already: "
                             f"{then}") from None
        stored = stored_chunk(array, chunk_coords) or b""
    decoded = array[region].astype(np.float64)
    original = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(original)
    error = decoded[finite] - original[finite]
    codec = inrcodec_of(array)
    promise = codec.mode.measure(original, decoded, len(stored), math.prod(array.chunks))
    worst = float(np.abs(error).max(initial=0.0))
    rmse = rms(error)
    return {"encoded": int(encoded), "values": int(values.size), "finite": int(finite.sum()),
            "bytes_in": values.nbytes, "bytes_out": len(stored),
            "kind": chunk_kind(stored[:6]) or "other", "squared_error": float((error ** 2).sum()),
            "error_sum": float(error.sum()), "max_abs_error": worst,
            "low": float(original[finite].min(initial=math.inf)),
            "high": float(original[finite].max(initial=-math.inf)),
            "promise": promise, "worker": os.getpid(),
            "classic": classic.compare(np.asarray(values), worst, rmse, codec.model)}

