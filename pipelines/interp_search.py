"""What each part of the interpolation coder's settings search buys, and what it costs.

The coder (inrcodec/coding/interp/) chooses per chunk its interpolant (cubic or linear), its
level-bound mode, its axis order and its batch axes by trial sweeps; on A1B at 1% of the range
that search is about two thirds of the codec's encode (issue #30's encode target). Here the
coder runs alone on the benchmark datasets' test chunks, at 10%, 1%, 0.1% and 0.01% of each
test range (rounded as the benchmark rounds them), once with the full search and once with each
part of it fixed through ``interp.encode``'s own arguments: bytes of every section (the NaN mask
is the same whatever the settings, and left out) and encode CPU time, best of ``--repeats``.
A restriction that costs few bytes and saves much time is where a cheaper search starts.

Then the same on what the bounded modes' BOUNDED_SPATIAL chunks code: the residual a model's
prediction leaves (its latents projected at the codec's latent bits, quantized, as the encoder
makes them), with the dataset's bundled model and with the universal one of its dimension: the
full search against the residual's own (``sections/spatial.search_residual``).

    python pipelines/interp_search.py [--markdown docs/interp-search.md] [--quick]
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from evaluate_interp import bounds_for, half_step  # noqa: E402 (the coder's bounds and step)

from inrcodec import INRCodec  # noqa: E402
from inrcodec.bench.datasets import DATASETS  # noqa: E402
from inrcodec.bench.machine import machine  # noqa: E402
from inrcodec.bench.stamp import stamp, stamped  # noqa: E402
from inrcodec.chunk import Chunk  # noqa: E402
from inrcodec.coding import interp, kernels, residual  # noqa: E402
from inrcodec.coding.quantize import LatentQuantizer  # noqa: E402
from inrcodec.model import resolve  # noqa: E402
from inrcodec.modes.bounded import Bounded  # noqa: E402
from inrcodec.sections.bounds import Prediction  # noqa: E402
from inrcodec.sections.network import fit  # noqa: E402
from inrcodec.sections.spatial import RESIDUAL_SEARCH, search_residual  # noqa: E402

RESTRICTIONS = {  # interp.encode's arguments that fix a part of the search
    "full search": {},
    "bound mode 0": {"bound_mode": 0},
    "cubic only": {"cubic": True},
    "forward order only": {"reverse": False},
    "no batch axes": {"batch_axes": 0},
    "one setting": {"cubic": True, "bound_mode": 0, "reverse": True, "batch_axes": 0},
    # what the search has found when it stops after its first sweep (interp.plan's first_sweep)
    "first sweep only": {"bound_mode": 1, "reverse": False, "batch_axes": 0},
}
QUICK = ("a1b", "ostia")
RESIDUAL_SEARCHES = {"full search": interp.plan, "the residual's search": search_residual}


def residuals(model_name: str, chunks: list[np.ndarray], bound: float) -> list[tuple]:
    """(residual, half step, missing) of each chunk under ``bound``: the chunk less the model's
    prediction from latents projected and quantized as the bounded encoder makes them (before
    its gate: every chunk the network could code)."""
    model, mode = resolve(model_name), Bounded(max_error=bound)
    quantizer = model.quantizer(*LatentQuantizer.resolution(mode.latent_bits))
    out = []
    for c in chunks:
        finite = np.isfinite(c) if c.dtype.kind == "f" else c != 0
        if not finite.any() or c[finite].min() == c[finite].max():
            continue  # stored EMPTY or CONSTANT (core.encode), without the network
        chunk = Chunk(c, finite, {"dtype": c.dtype, "shape": c.shape, "fortran_order": False,
                                  "mask": None})
        prediction = Prediction.of(chunk, model, quantizer, fit(chunk, model, 0, quantizer))
        target = np.where(finite, c.astype(np.float64) - prediction.values, 0.0)
        out.append((target, residual.half_step(bound, c.dtype, chunk.norm),
                    None if finite.all() else ~finite))
    return out


def measure_residuals(name: str, model_names: list[str], chunks: list[np.ndarray],
                      repeats: int) -> list[dict]:
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    rows = []
    for model_name in model_names:
        for fraction, bound in bounds_for(float(np.ptp(finite)), chunks[0].dtype):
            prepared = residuals(model_name, chunks, bound)
            row = {"dataset": name, "model": model_name, "fraction": fraction, "bound": bound,
                   "values": sum(c.size for c in chunks),
                   "megabytes": sum(c.nbytes for c in chunks) / 1e6}
            for label, search in RESIDUAL_SEARCHES.items():
                row[label] = _timed_sizes(prepared, lambda *a, search=search: search(*a).finish(),
                                          repeats)
            row["codec"] = codec_bytes(model_name, chunks, bound)
            rows.append(row)
            full, own = row["full search"], row["the residual's search"]
            print(f"  residual {name:14} {model_name} {fraction:g}: {own['bytes'] / full['bytes']:.4f}, "
                  f"{full['seconds'] / own['seconds']:.2f}x", flush=True)
    return rows


def codec_bytes(model_name: str, chunks: list[np.ndarray], bound: float) -> dict:
    """The bounded codec's bytes of ``chunks`` (the shortest way of each, as it chooses), with
    the residual's search as it is and with the whole search in its place."""
    codec = INRCodec(model_name, max_error=bound)
    out = {"the residual's search": sum(len(codec.encode(c)) for c in chunks)}
    with mock.patch.dict(RESIDUAL_SEARCH, clear=True):  # no setting fixed: the whole search
        out["full search"] = sum(len(codec.encode(c)) for c in chunks)
    return out


def _timed_sizes(prepared: list[tuple], encode, repeats: int) -> dict:
    """Bytes of each of ``prepared``'s (values, half, missing) coded by ``encode`` (interp.encode's
    arguments, its (section, reconstruction)), and the best CPU time of ``repeats``."""
    encode(*prepared[0])  # first-call costs
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        sizes = [len(encode(*p)[0]) for p in prepared]
        best = min(best, time.process_time() - start)
    return {"bytes": sum(sizes), "seconds": best, "chunks": sizes}


def measure_dataset(name: str, chunks: list[np.ndarray], repeats: int) -> list[dict]:
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    magnitude, dtype = float(np.abs(finite).max()), chunks[0].dtype
    prepared = []
    for c in chunks:
        values = c.astype(np.float64)
        missing = np.isnan(values)
        prepared.append((np.where(missing, 0.0, values), missing if missing.any() else None))
    rows = []
    for fraction, bound in bounds_for(float(np.ptp(finite)), dtype):
        half = half_step(bound, dtype, magnitude)
        row = {"dataset": name, "fraction": fraction, "bound": bound,
               "values": sum(c.size for c in chunks), "megabytes": sum(c.nbytes for c in chunks) / 1e6}
        for label, fixed in RESTRICTIONS.items():
            row[label] = _timed_sizes([(v, half, m) for v, m in prepared],
                                      lambda *a, fixed=fixed: interp.encode(*a, **fixed), repeats)
        rows.append(row)
        full = row["full search"]
        print(f"  {name:14} {fraction:g}: " + " ".join(
            f"{label} {row[label]['bytes'] / full['bytes']:.3f}, "
            f"{full['seconds'] / row[label]['seconds']:.2f}x"
            for label in RESTRICTIONS if label != "full search"), flush=True)
    return rows


def markdown(rows: list[dict], residual_rows: list[dict], seconds: float, machine_line: str,
             date: str, **_) -> str:
    others = [label for label in RESTRICTIONS if label != "full search"]
    lines = ["# The interpolation coder's settings search: what each part buys", "",
             f"Produced by `python pipelines/interp_search.py` ({date}, {seconds / 60:.1f} minutes) "
             f"on {machine_line}, one thread, the compiled kernels loaded from the start.", "",
             "The coder alone on each benchmark dataset's test chunks (the benchmark's split and "
             "chunking), at 10% to 0.01% of the test range: the full search's bits per value and "
             "encode MB/s (CPU time), then for each part of the search fixed, its bytes over the "
             "full search's (above 1: the part pays) and its encode speed over the full search's "
             "(above 1: the part costs time). Fixed: " + "; ".join(
                 f"*{label}*: `{', '.join(f'{k}={v}' for k, v in fixed.items())}`"
                 for label, fixed in RESTRICTIONS.items() if fixed) + ".", "",
             "## Summary over every (dataset, bound) pair", "",
             "| fixed | bytes over the full search: total, median, worst pair | worst chunk | "
             "speed over the full search: median, least |", "|---|---|---|---|"]
    for label in others:
        ratio, speed, total, worst, (chunk, at) = _against_full(rows, label)
        lines.append(f"| {label} | {total:.4f}, {np.median(ratio):.4f}, {ratio[worst]:.3f} "
                     f"({rows[worst]['dataset']} at {rows[worst]['fraction']:g}) | "
                     f"{chunk:.3f} ({at['dataset']} at {at['fraction']:g}) | "
                     f"{np.median(speed):.2f}x, {min(speed):.2f}x |")
    lines += ["", "## Every pair", "",
              "| dataset | bound (of range) | full search b/v | enc MB/s | "
              + " | ".join(f"{label}: bytes, speed" for label in others) + " |",
              "|---|---|---|---|" + "---|" * len(others)]
    for r in rows:
        full = r["full search"]
        lines.append(f"| {r['dataset']} | {r['fraction']:g} | {8 * full['bytes'] / r['values']:.3f} | "
                     f"{r['megabytes'] / full['seconds']:.3g} | " + " | ".join(
                         f"{r[label]['bytes'] / full['bytes']:.3f}, "
                         f"{full['seconds'] / r[label]['seconds']:.2f}x" for label in others) + " |")
    return "\n".join(lines + residual_markdown(residual_rows)) + "\n"


def _against_full(rows: list[dict], label: str) -> tuple:
    """``label``'s bytes and speed over the full search's in each row, its bytes over the
    full search's in total, the row where they are worst, and the worst chunk (ratio, row)."""
    ratio = [r[label]["bytes"] / r["full search"]["bytes"] for r in rows]
    speed = [r["full search"]["seconds"] / r[label]["seconds"] for r in rows]
    total = sum(r[label]["bytes"] for r in rows) / sum(r["full search"]["bytes"] for r in rows)
    worst = max(range(len(rows)), key=lambda i: ratio[i])
    chunk = max(((a / b, r) for r in rows
                 for a, b in zip(r[label]["chunks"], r["full search"]["chunks"])),
                key=lambda pair: pair[0])
    return ratio, speed, total, worst, chunk


def residual_markdown(rows: list[dict]) -> list[str]:
    own = "the residual's search"
    ratio, speed, total, worst, (chunk, at) = _against_full(rows, own)
    fixed = ", ".join(f"{k}={v}" for k, v in RESIDUAL_SEARCH.items())
    stored = [r["codec"][own] / r["codec"]["full search"] for r in rows]
    codec = sum(r["codec"][own] for r in rows) / sum(r["codec"]["full search"] for r in rows)
    codec_worst = max(range(len(rows)), key=lambda i: stored[i])
    lines = ["", "## The network's residual", "",
             "The residual each test chunk leaves under the dataset's bundled model and the "
             "universal model of its dimension (latents projected and quantized as the bounded "
             "encoder makes them, before its gate), coded alone at each bound: the full search "
             "against the residual's own (`sections/spatial.search_residual`: on a residual "
             f"larger than a small trial block ({interp.SMALL_TRIAL} values), one trial sweep with "
             f"`{fixed}`, of the interpolant and any batch axes; on a smaller one the full "
             "search). Bytes over the full search's: total "
             f"{total:.4f}, median {np.median(ratio):.4f}, worst pair {ratio[worst]:.3f} "
             f"({rows[worst]['dataset']}, {rows[worst]['model']} at {rows[worst]['fraction']:g}), "
             f"worst chunk {chunk:.3f} ({at['dataset']}, {at['model']} at {at['fraction']:g}); "
             f"speed over the full search's: median {np.median(speed):.2f}x, least "
             f"{min(speed):.2f}x.", "",
             "A residual the codec keeps only where it is the shortest way to store the chunk "
             "(sections/bounds.py), so what the bounded codec stores changes less: its bytes of "
             "the same chunks under the same bound (every way tried, as it chooses) with the "
             "residual's search over those with the whole search are "
             f"{codec:.4f} in total, {stored[codec_worst]:.4f} at worst "
             f"({rows[codec_worst]['dataset']}, {rows[codec_worst]['model']} at "
             f"{rows[codec_worst]['fraction']:g}).", "",
             "| dataset | model | bound (of range) | full search b/v | enc MB/s | the residual's "
             "search: bytes, speed | the codec's bytes |", "|---|---|---|---|---|---|---|"]
    for r, bytes_ratio, faster, codec_ratio in zip(rows, ratio, speed, stored):
        full = r["full search"]
        lines.append(f"| {r['dataset']} | {r['model']} | {r['fraction']:g} | "
                     f"{8 * full['bytes'] / r['values']:.3f} | "
                     f"{r['megabytes'] / full['seconds']:.3g} | {bytes_ratio:.3f}, {faster:.2f}x | "
                     f"{codec_ratio:.4f} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--markdown", default="docs/interp-search.md")
    p.add_argument("--quick", action="store_true",
                   help=f"a check, not the page: datasets {' '.join(QUICK)} unless --datasets "
                        "says, one repeat")
    args = p.parse_args()
    if args.quick:
        if "--datasets" not in sys.argv:
            args.datasets = list(QUICK)
        args.repeats = 1
    # The compiled kernels from the start, as in a compressing worker (a process loads them once
    # its coders have passed 8 million points: that second would land in one pair's time).
    kernels.compiled()
    kernels.LOAD_AFTER_WORK = 0
    start, rows, residual_rows = time.perf_counter(), [], []
    for name in args.datasets:
        ds = DATASETS[name]
        try:
            array = ds.load()
        except Exception as e:  # a dataset whose extra is not installed is skipped
            print(f"skipped dataset {name}: {e}", flush=True)
            continue
        chunks = ds.test_chunks(array)
        rows += measure_dataset(name, chunks, args.repeats)
        universal = "universal-" + ds.model.rsplit("-", 1)[1]
        residual_rows += measure_residuals(name, [ds.model, universal], chunks, args.repeats)
        if name == "a1b":  # the chunks of issue #30's speed target, past a small trial block
            stacked = [np.concatenate(chunks[i:i + 12]) for i in range(0, len(chunks), 12)]
            residual_rows += measure_residuals("a1b, 12 fields a chunk", [ds.model], stacked,
                                               args.repeats)
    results = {"rows": rows, "residual_rows": residual_rows,
               "seconds": time.perf_counter() - start, "machine_line": machine(),
               "date": time.strftime("%Y-%m-%d")}
    made = stamp()
    with open(args.markdown.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump({**results, "stamp": made}, f, indent=1)
    text = markdown(**results)
    with open(args.markdown, "w") as f:
        f.write(stamped(text, made))
    print(text)


if __name__ == "__main__":
    main()
