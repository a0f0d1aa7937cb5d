"""What the encoder's two shortcuts change, in one run: the network's gate (a sample of patches
decides whether the network is worth fitting, `sections/network.py`) and the floor's search (the
loosest bound that keeps a PSNR floor, `modes/latents.py`).

Every benchmark dataset's test chunks (an even sample of ``--chunks``), with the bundled and the
universal model, in five modes (floors at 30, 40 and 50 dB, error bounds at 1% and 0.1% of the
range), are encoded three ways in the same process: as the encoder was without either shortcut,
with the gate alone, and as it is now. The report gives bits per value, the worst chunk's PSNR
or error, and encode seconds (one thread, the best of ``--repeats``, inrcodec's compiled kernels
loaded from the start), so the gate's promise (the same bits, less time) and the search's
(fewer bits, the floor kept) can be read off.
The earlier encoder is the current one with the shortcuts' constants turned off:
``GATE_DB = inf`` (no sample ever gives up) and ``LOOSENING_TRIALS = 0`` (the first bound that
keeps the floor is stored).

    python pipelines/evaluate_encoder.py [--chunks 6] [--markdown docs/encoder.md]
"""

import argparse
import math
import time

import numpy as np
import torch
from evaluate_universal import UNIVERSAL
from pipelines_common import machine, publish_results, table

from inrcodec import INRCodec
from inrcodec.bench.datasets import DATASETS
from inrcodec.chunk import Chunk
from inrcodec.coding import kernels
from inrcodec.measure import distortion
from inrcodec.model import resolve
from inrcodec.modes import latents
from inrcodec.sections import network

# (GATE_DB, LOOSENING_TRIALS, SAMPLE_MARGIN_DB) of each encoder; the last is today's, but for a
# linear model judging its whole projection, not its sample first (SAMPLE_MARGIN_DB = inf).
VARIANTS = {"before": (math.inf, 0, math.inf), "gate": (network.GATE_DB, 0, network.SAMPLE_MARGIN_DB),
            "gate + search": (network.GATE_DB, latents.LOOSENING_TRIALS, network.SAMPLE_MARGIN_DB),
            "whole projection": (network.GATE_DB, latents.LOOSENING_TRIALS, math.inf)}


def settings(value_range: float) -> dict[str, dict]:
    bounds = {f"+-{p:g}% range": dict(max_error=float(f"{p / 100 * value_range:.2g}"))
              for p in (1, 0.1)}
    return {**{f">={f} dB": dict(min_psnr=float(f)) for f in (30, 40, 50)}, **bounds}


def measure(codec: INRCodec, chunks: list[np.ndarray], repeats: int) -> dict:
    codec.encode(chunks[0])  # the model's caches, once
    best, encoded = math.inf, None
    for _ in range(repeats):
        began = time.perf_counter()
        encoded = [codec.encode(c) for c in chunks]
        best = min(best, time.perf_counter() - began)
    quality = [distortion(c, codec.decode(data)) for c, data in zip(chunks, encoded)]
    return {"bits": 8 * sum(map(len, encoded)) / sum(c.size for c in chunks),
            "worst_psnr": min(q["psnr_db"] for q in quality),
            "max_error": max(q["max_abs_error"] for q in quality), "encode_s": best,
            "bytes": [len(d) for d in encoded]}


def sample_spread(model_name: str, chunks: list[np.ndarray]) -> list[float]:
    """For each chunk with a gate's sample of patches, how far the linear model's projection
    misses on the sample from how far it misses on the whole chunk (rms errors, dB):
    ``network.SAMPLE_MARGIN_DB``'s evidence."""
    model, out = resolve(model_name), []
    for c in map(np.asarray, chunks):
        finite = np.isfinite(c) if c.dtype.kind == "f" else c != 0  # (core.encode's values)
        if not finite.any() or np.ptp(c[finite]) == 0:
            continue
        target, weight = Chunk(c, finite, {}).patch_arrays(model.patch_shape)
        sample = network._sample_of(weight.sum(-1))
        if sample is not None:
            whole = network._projected_rms_of(model, target, weight)
            part = network._projected_rms_of(model, target[sample], weight[sample])
            out.append(20 * math.log10(part / whole))
    return out


def evaluate(name: str, which: str, n_chunks: int, repeats: int) -> list[dict]:
    ds = DATASETS[name]
    model = ds.model if which == "bundled" else UNIVERSAL[resolve(ds.model).ndim]
    chunks = ds.test_chunks(ds.load(), limit=n_chunks)
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    rows = []
    for label, kwargs in settings(float(np.ptp(finite))).items():
        row = {"dataset": name, "model": model, "mode": label, "chunks": len(chunks)}
        for variant, constants in VARIANTS.items():
            if variant == "whole projection" and not resolve(model).linear:
                continue  # (only a linear model projects)
            network.GATE_DB, latents.LOOSENING_TRIALS, network.SAMPLE_MARGIN_DB = constants
            row[variant] = measure(INRCodec(model=model, **kwargs), chunks, repeats)
        network.GATE_DB, latents.LOOSENING_TRIALS, network.SAMPLE_MARGIN_DB = VARIANTS["gate + search"]
        print(name, model, label, *(f"{v} {row[v]['bits']:.4g} bits {row[v]['encode_s']:.2f} s"
                                     for v in VARIANTS if v in row), flush=True)
        rows.append(row)
    if resolve(model).linear:
        rows[0]["sample_db"] = sample_spread(model, chunks)
    return rows


def report(rows: list[dict], header: str) -> list[str]:
    cells, same, bit_ratios = [], 0, []
    for r in rows:
        b, g, s = r["before"], r["gate"], r["gate + search"]
        same += b["bytes"] == g["bytes"]
        if r["mode"].startswith(">="):
            bit_ratios.append(s["bits"] / b["bits"])
        quality = (lambda m: f"{m['worst_psnr']:.2f} dB") if r["mode"].startswith(">=") else (
            lambda m: f"{m['max_error']:.3g}")
        cells.append([r["dataset"], r["model"], r["mode"], f"{b['bits']:.4g}", f"{g['bits']:.4g}",
                      f"{s['bits']:.4g} ({s['bits'] / b['bits'] - 1:+.0%})", quality(b), quality(s),
                      f"{b['encode_s']:.2f}", f"{g['encode_s'] / b['encode_s']:.2f}",
                      f"{s['encode_s'] / b['encode_s']:.2f}"])
    total = {v: sum(r[v]["encode_s"] for r in rows) for v in ("before", "gate", "gate + search")}
    linear = [r for r in rows if "whole projection" in r]
    spread = [db for r in rows for db in r.get("sample_db", [])] or [math.nan]
    whole_s, sampled_s = (sum(r[v]["encode_s"] for r in linear)
                          for v in ("whole projection", "gate + search"))
    floors = [r for r in rows if r["mode"].startswith(">=")]
    kept = all(r["gate + search"]["worst_psnr"] >= float(r["mode"][2:].split()[0]) for r in floors)
    lines = [header, "",
             f"- The gate stored the same bytes as fitting every patch in {same} of {len(rows)} "
             f"(dataset, model, mode) cases; all chunks' encode time, summed: "
             f"{total['before']:.1f} s before, {total['gate']:.1f} s with the gate "
             f"({total['gate'] / total['before']:.2f}x), {total['gate + search']:.1f} s with both "
             f"({total['gate + search'] / total['before']:.2f}x).",
             f"- The floor's search: {min(bit_ratios):.2f}x-{max(bit_ratios):.2f}x the bits of the "
             f"first bound that keeps the floor (median {np.median(bit_ratios):.2f}x) over "
             f"{len(floors)} floor cases; every chunk {'kept' if kept else 'DID NOT keep'} its floor.",
             f"- A linear model judged on the gate's sample of patches first "
             f"(`network.SAMPLE_MARGIN_DB`) stored the same bytes as judging its whole projection "
             f"in {sum(r['whole projection']['bytes'] == r['gate + search']['bytes'] for r in linear)} "
             f"of {len(linear)} cases; their encode time, summed: {whole_s:.1f} s judged whole, "
             f"{sampled_s:.1f} s on the sample first ({sampled_s / whole_s:.2f}x). On the "
             f"{len(spread)} chunks with a sample, the sample's rms error lay "
             f"{-min(spread):.1f} dB under to {max(spread):.1f} dB over the whole chunk's (the "
             f"margin is {network.SAMPLE_MARGIN_DB:g} dB).", ""]
    lines += table(["dataset", "model", "mode", "bits before", "gate", "gate + search",
                    "worst before", "worst now", "encode s before", "x gate", "x both"], cells)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--chunks", type=int, default=6, help="test chunks per dataset, evenly sampled")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--markdown")
    args = p.parse_args()
    # The compiled kernels from the start, as in a compressing worker (speed.py): a process
    # loads them once its coders have passed 8 million points, and the first datasets' speeds
    # would be the numpy path's.
    kernels.compiled()
    torch.set_num_threads(1)
    began = time.perf_counter()
    rows = [r for name in args.datasets for which in ("bundled", "universal")
            for r in evaluate(name, which, args.chunks, args.repeats)]
    header = (f"# The encoder's gate and floor search\n\nGenerated by `python "
              f"pipelines/evaluate_encoder.py --chunks {args.chunks} --repeats {args.repeats}` on "
              f"{machine()}, in {(time.perf_counter() - began) / 60:.1f} minutes. Up to "
              f"{args.chunks} test chunks of each benchmark dataset; 'before': the encoder without "
              "either; 'gate': the network fitted only where a sample of patches says it can "
              "help; 'gate + search': also the loosest bound that keeps a floor (today's "
              "encoder). Bits per value "
              "of every stored byte; worst: the worst chunk's PSNR (floors) or the largest error "
              "(bounds); encode s: every chunk, one thread, and its ratio to 'before'.")
    lines = report(rows, header)
    publish_results(lines, rows, args.markdown)


if __name__ == "__main__":
    main()
