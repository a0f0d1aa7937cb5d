"""Compress datasets into Zarr on a dask.distributed cluster; chunks are fitted in the workers.

The client writes the store's metadata (and the small variables inrcodec does not compress),
then every Zarr chunk of every compressed variable becomes one task: the worker reads its block
of the source, encodes it (unless the store already holds it: that is how an interrupted run
resumes), reads it back and returns a few statistics. Workers need inrcodec installed and the
source and destination paths reachable; the model travels inside the array metadata.
"""

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import open_source
from .measure import psnr_db
from .model import resolve
from .store import inrcodec_of, stored_chunk_size
from .xarray import chunks_for, compressible, encoding_for


@dataclass
class VariableReport:
    chunks: int = 0
    encoded: int = 0  # in this run; the others were already in the store
    values: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    squared_error: float = 0.0
    max_abs_error: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    workers: set = field(default_factory=set)

    def add(self, stats: dict) -> None:
        self.chunks += 1
        self.encoded += stats["encoded"]
        self.values += stats["values"]
        self.bytes_in += stats["bytes_in"]
        self.bytes_out += stats["bytes_out"]
        self.squared_error += stats["squared_error"]
        self.max_abs_error = max(self.max_abs_error, stats["max_abs_error"])
        self.low, self.high = min(self.low, stats["low"]), max(self.high, stats["high"])
        self.workers.add(stats["worker"])

    @property
    def psnr_db(self) -> float:
        return psnr_db(self.high - self.low, math.sqrt(self.squared_error / max(self.values, 1)))


@dataclass
class Report:
    dest: str
    seconds: float
    variables: dict[str, VariableReport]

    def table(self) -> str:
        lines = [f"{'variable':20} {'chunks':>7} {'encoded':>7} {'MB in':>8} {'kB out':>8} "
                 f"{'ratio':>7} {'bits/val':>8} {'PSNR dB':>8} {'max err':>9}"]
        for name, v in self.variables.items():
            lines.append(f"{name:20} {v.chunks:>7} {v.encoded:>7} {v.bytes_in / 1e6:>8.2f} "
                         f"{v.bytes_out / 1e3:>8.1f} {v.bytes_in / max(v.bytes_out, 1):>7.1f} "
                         f"{8 * v.bytes_out / max(v.values, 1):>8.3f} {v.psnr_db:>8.2f} "
                         f"{v.max_abs_error:>9.4g}")
        chunks = sum(v.encoded for v in self.variables.values())
        lines.append(f"{chunks} chunks encoded in {self.seconds:.1f} s "
                     f"({chunks / max(self.seconds, 1e-9):.2f} chunks/s) into {self.dest}")
        return "\n".join(lines)


def compress(source, dest, *, variables=None, model="default-2d", zarr_format: int = 2,
             chunks: dict | None = None, scheduler: str | None = None, n_workers: int = 2,
             torch_threads: int = 1, progress: bool = True, **settings) -> Report:
    """Compress ``source`` into the Zarr store ``dest`` on a dask cluster, resuming if it exists.

    ``scheduler`` is the address of a running scheduler; without it a LocalCluster of
    ``n_workers`` single-threaded worker processes is started (and closed afterwards). Each
    task uses ``torch_threads`` threads. ``chunks`` overrides the Zarr chunks per variable
    (``{"t2m": (12, 37, 49)}``); by default they follow the model's patches.
    ``settings`` go to the codec.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ImportError(f"compressing on a cluster needs dask.distributed ({e}): "
                          "pip install 'dask[distributed]'") from e
    from tqdm.auto import tqdm

    ds = open_source(source)
    resolved = resolve(model)
    names = compressible(ds, resolved, variables)
    chunks = {name: tuple((chunks or {}).get(name) or chunks_for(
        ds[name].shape, ds[name].dtype.itemsize, resolved.patch_shape)) for name in names}
    # One dask block per Zarr chunk: every task writes whole chunks, never part of one.
    ds = ds.assign({name: ds[name].chunk(dict(zip(ds[name].dims, chunks[name])))
                    for name in names})
    encoding = encoding_for(ds, model, zarr_format=zarr_format, variables=names, chunks=chunks,
                            **settings)
    dest = str(dest)
    if Path(dest).exists():
        _check_resumable(ds, dest, encoding)
    else:
        _write_metadata(ds, dest, encoding, zarr_format)

    cluster = None if scheduler else LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                                   processes=True, dashboard_address=None)
    start = time.perf_counter()
    with Client(scheduler or cluster) as client:
        tasks = [(name, block) for name in encoding for block in ds[name].data.to_delayed().ravel()]
        futures = {client.compute(_compress_block(block, dest, name, torch_threads)): name
                   for name, block in tasks}
        reports = {name: VariableReport() for name in encoding}
        for future in tqdm(as_completed(futures), total=len(futures), disable=not progress,
                           desc="compressing chunks", unit="chunk"):
            reports[futures[future]].add(future.result())
    if cluster is not None:
        cluster.close()
    return Report(dest, time.perf_counter() - start, reports)


def _write_metadata(ds, dest: str, encoding: dict, zarr_format: int) -> None:
    """Create the store: array metadata, coordinates and the variables left uncompressed."""
    small = [name for name in ds.variables if name not in encoding]
    ds = ds.assign({name: ds[name].load() for name in small if name in ds.data_vars})
    ds.to_zarr(dest, mode="w-", compute=False, encoding=encoding, zarr_format=zarr_format,
               consolidated=True)


def _check_resumable(ds, dest: str, encoding: dict) -> None:
    """Refuse to resume into a store that was started with another source or other settings."""
    import zarr

    for name, entry in encoding.items():
        try:
            array = zarr.open_array(dest, path=name, mode="r")
        except (FileNotFoundError, KeyError, ValueError) as e:
            raise ValueError(f"{dest} exists but holds no array {name!r}: it was not started by "
                             "this command; choose another destination") from e
        codec = inrcodec_of(array)
        wanted = entry.get("serializer") or entry["compressors"]
        wanted = getattr(wanted, "codec", wanted)
        if (codec is None or codec.get_config() != wanted.get_config()
                or array.shape != ds[name].shape or tuple(array.chunks) != entry["chunks"]):
            raise ValueError(f"{dest} was started with other settings for {name!r} (codec, shape "
                             "or chunks): resume with the same ones, or delete it to start over")


def _compress_block(block, dest, name, torch_threads):
    import dask

    return dask.delayed(_compress_in_worker, pure=False)(block, dest, name, torch_threads,
                                                          block.key[1:])


def _compress_in_worker(values: np.ndarray, dest: str, name: str, torch_threads: int,
                        chunk_coords: tuple[int, ...]) -> dict:
    import torch
    import zarr

    torch.set_num_threads(torch_threads)
    array = zarr.open_array(dest, path=name, mode="r+")
    region = tuple(slice(c * n, c * n + s) for c, n, s in zip(chunk_coords, array.chunks, values.shape))
    encoded = stored_chunk_size(array, chunk_coords) is None
    if encoded:
        array[region] = values
    stored = stored_chunk_size(array, chunk_coords)
    decoded = array[region].astype(np.float64)
    original = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(original)
    error = np.abs(decoded[finite] - original[finite])
    return {"encoded": int(encoded), "values": int(finite.sum()), "bytes_in": values.nbytes,
            "bytes_out": stored or 0, "squared_error": float((error ** 2).sum()),
            "max_abs_error": float(error.max(initial=0.0)),
            "low": float(original[finite].min(initial=math.inf)),
            "high": float(original[finite].max(initial=-math.inf)), "worker": os.getpid()}
