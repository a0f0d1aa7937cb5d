"""One benchmark run: every codec on the same chunks of every dataset, measured alike.

Chunks are encoded one after another in this process, on ``threads`` torch threads (the peers are
single-threaded), and decoded from the bytes alone plus the chunk's shape and dtype. A codec that
is not installed, or fails on a dataset, is skipped with a note; the run goes on.
"""

import json
import math
import time

import numpy as np
import torch

from ..coding import kernels
from ..measure import round_trip
from . import inr, outputs, pca
from .datasets import DATASETS, Dataset
from .machine import load_average, machine, matmul_flops, revision
from .metrics import PeakRSS, count_flops
from .options import QUICK_DATASETS, QUICK_TEST_CHUNKS, Options
from .peers import DEFAULT_PEERS, Contender, Context, absolute_bounds, from_json
from .stamp import stamp

# A setting whose encoding takes longer than this is abandoned, with the family's later settings
# on that dataset (settings run from cheap to dear), so no codec can stall the whole run.
SETTING_SECONDS = {False: 120.0, True: 40.0}


def run(options: Options) -> dict:
    """Every dataset and codec; the results as one JSON-ready dict (see outputs.py)."""
    names = options.datasets or (QUICK_DATASETS if options.quick else list(DATASETS))
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    # The compiled kernels from the start, as in a compressing worker: a process loads them
    # once its coders have passed 8 million points, and the first datasets' speeds would be the
    # numpy path's.
    kernels.compiled()
    threads = torch.get_num_threads()
    torch.set_num_threads(options.threads)
    try:
        start = time.perf_counter()
        results = {"command": options.command(), "revision": revision(), "machine": machine(),
                   "matmul_flops": matmul_flops(512 if options.quick else 1024),
                   "torch_threads": options.threads, "quick": options.quick,
                   "date": time.strftime("%Y-%m-%d"), "load_average": [load_average()],
                   "datasets": [], "rows": [], "cost": [], "notes": [],
                   "stamp": stamp("inrcodec bench")}
        warm: set[str] = set()  # families whose first-call costs (imports, wasm) are paid
        for name in names:
            _run_dataset(DATASETS[name], options, results, warm)
        results["seconds"] = time.perf_counter() - start
        results["load_average"].append(load_average())
        return results
    finally:
        torch.set_num_threads(threads)


def run_and_report(options: Options) -> dict:
    """``run``, then the report files in ``options.out``; says where they are."""
    results = run(options)
    for path in outputs.write(results, options.out):
        print(f"wrote {path}")
    print(f"{len(results['rows'])} results in {results['seconds'] / 60:.1f} minutes")
    return results


def _note(results: dict, text: str) -> None:
    if text not in results["notes"]:
        results["notes"].append(text)
        print(f"note: {text}", flush=True)


def _run_dataset(ds: Dataset, options: Options, results: dict, warm: set[str]) -> None:
    try:
        array = ds.load()
    except Exception as e:  # a dataset that is not installed is skipped, never fatal
        _note(results, f"skipped dataset {ds.name}: {e}")
        return
    chunks = ds.test_chunks(array, QUICK_TEST_CHUNKS if options.quick else None)
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    value_range = float(np.ptp(finite))
    ctx = Context(array.dtype, any(not np.isfinite(c).all() for c in chunks), value_range,
                  absolute_bounds(value_range, array.dtype, options.quick), options.quick)
    train = ds.train_chunks(array)
    record = _record(ds, array, chunks, train, ctx)
    results["datasets"].append(record)
    print(f"{ds.name}: {array.shape} {array.dtype}, {len(chunks)} test chunks of {ds.chunks}",
          flush=True)
    measured, abandoned = set(), set()
    for contender in _contenders(ds, ctx, train, options.codecs, results):
        if contender.family in abandoned:
            continue
        try:
            row = measure(contender, chunks, warm, SETTING_SECONDS[options.quick])
        except TimeoutError as e:
            abandoned.add(contender.family)
            _note(results, f"{ds.name}: {contender.family} {contender.setting} {e}; its later "
                           "settings were not run")
            continue
        except Exception as e:
            _note(results, f"{ds.name}: {contender.family} {contender.setting} failed: "
                           f"{type(e).__name__}: {e}")
            continue
        if contender.family.startswith("inrcodec"):
            model_bits = record["model_bits_per_test_value"]
            row.update(model_bits_per_value=model_bits,
                       bits_per_value_with_model=row["bits_per_value"] + model_bits)
            if contender.family not in measured:
                measured.add(contender.family)
                results["cost"].append({"dataset": ds.name, **cost(contender, chunks),
                                        "matmul_flops": results["matmul_flops"]})
        results["rows"].append({"dataset": ds.name, **row})
        print(f"  {contender.family:20} {contender.setting:28} {row['bits_per_value']:8.3f} "
              f"bits/value {row['psnr_db']:7.2f} dB  max err {row['max_abs_error']:.4g}  "
              f"{row['encode_mb_s']:.2f}/{row['decode_mb_s']:.2f} MB/s", flush=True)


def _record(ds: Dataset, array: np.ndarray, chunks: list[np.ndarray], train: list[np.ndarray],
            ctx: Context) -> dict:
    """What the report says about a dataset: the data, its splits, its model."""
    test_values = array[ds.test or slice(None)].size
    return {"name": ds.name, "description": ds.description, "shape": list(array.shape),
            "dtype": str(array.dtype),
            "nan_fraction": float(np.mean(np.isnan(array))) if array.dtype.kind == "f" else 0.0,
            "chunks": list(ds.chunks), "test": _describe(ds.test, array.shape[0]),
            "test_chunks": len(ds.test_chunks(array)), "evaluated_chunks": len(chunks),
            "evaluated_values": int(sum(c.size for c in chunks)), "value_range": ctx.value_range,
            "train": _describe(ds.train, array.shape[0]) if ds.train else None,
            "train_chunks": len(train), "bounds": list(ctx.bounds), "model": ds.model,
            "model_saw": ds.model_saw, **inr.describe_model(ds.model, test_values)}


def _contenders(ds: Dataset, ctx: Context, train: list[np.ndarray], codecs: list[dict],
                results: dict) -> list[Contender]:
    """inrcodec, the PCA control and every peer that is installed and applies to the data."""
    makers = [("inrcodec", lambda c: inr.contenders(ds.model, c.bounds, c.quick, c.value_range)),
              ("PCA control", lambda c: pca.contenders(train, c.quick)),
              *DEFAULT_PEERS.items(), *[(c["id"], from_json(c)) for c in codecs]]
    out = []
    for label, make in makers:
        try:
            out += make(ctx)
        except Exception as e:
            _note(results, f"skipped {label}: {e}")
    return out


def _describe(part: slice | None, n: int) -> str:
    start, stop, _ = (part or slice(None)).indices(n)
    return f"{start}-{stop - 1} of axis 0" if (start, stop) != (0, n) else "all"


def measure(contender: Contender, chunks: list[np.ndarray], warm: set[str],
            seconds: float = math.inf) -> dict:
    """Size, errors, speed and memory of one codec setting on ``chunks``. The first setting of
    a family is run once untimed, so import and compilation costs are not counted as speed.
    Raises TimeoutError when encoding takes longer than ``seconds``."""
    if contender.family not in warm:
        contender.decode(contender.encode(chunks[0]), chunks[0].shape, chunks[0].dtype)
        warm.add(contender.family)
    with PeakRSS() as memory:
        trip = round_trip(chunks, contender.encode, contender.decode, seconds)
    for c, d in zip(chunks, trip.decoded):
        if d.shape != c.shape or d.dtype != c.dtype:
            raise ValueError(f"decoded {d.shape} {d.dtype}, not {c.shape} {c.dtype}")
    errors, megabytes = trip.distortion(), sum(c.nbytes for c in chunks) / 1e6
    bound_held = (None if contender.bound is None
                  else bool(errors["max_abs_error"] <= contender.bound))
    return {"family": contender.family, "setting": contender.setting,
            "params": json.dumps(contender.params, sort_keys=True), "bound": contender.bound,
            "lossless": contender.lossless or errors["max_abs_error"] == 0,
            "stored_bytes": trip.stored_bytes, "values": trip.values,
            "bits_per_value": trip.bits_per_value, **errors, "bound_held": bound_held,
            "encode_mb_s": megabytes / trip.encode_seconds,
            "decode_mb_s": megabytes / trip.decode_seconds, "peak_rss_mb": memory.mb}


def cost(contender: Contender, chunks: list[np.ndarray]) -> dict:
    """FLOPs per value of encoding and decoding the test chunk with the most values (a constant
    chunk costs none), and the rate achieved on it, timed without the counter."""
    chunk = max(chunks, key=lambda c: (np.ptp(c[np.isfinite(c)]) > 0, c.size))
    start = time.perf_counter()
    data = contender.encode(chunk)
    encoded_at = time.perf_counter()
    contender.decode(data, chunk.shape, chunk.dtype)
    decoded_at = time.perf_counter()
    encode_flops, data = count_flops(lambda: contender.encode(chunk))
    decode_flops, _ = count_flops(lambda: contender.decode(data, chunk.shape, chunk.dtype))
    encode_flops += contender.numpy_flops[0] * chunk.size
    decode_flops += contender.numpy_flops[1] * chunk.size
    return {"family": contender.family, "setting": contender.setting,
            "chunk_shape": list(chunk.shape),
            "encode_flops_per_value": encode_flops / chunk.size,
            "decode_flops_per_value": decode_flops / chunk.size,
            "encode_flop_rate": encode_flops / (encoded_at - start),
            "decode_flop_rate": decode_flops / (decoded_at - encoded_at)}
