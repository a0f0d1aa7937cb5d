"""How fast inrcodec encodes and decodes beside SZ3, SPERR and ZFP, in one run (issue #19).

Cases: the held-out A1B fields 192-239 in chunks of 1 and of 12 fields (what the bundled model
knows), and two large fields stored as one chunk: NEMO's sea surface temperature (330 x 360,
land NaN) and a smooth synthetic 1000 x 1000 field. Codecs: inrcodec's default (the 40 dB floor)
and its error bound at 1% of the data's range, SZ3, SPERR and ZFP (fixed accuracy) at that same
bound. Each codec encodes and decodes every chunk of a case once a round, the codecs in turn,
for ``--repeats`` rounds, one thread, in this process; each codec's best round counts (the
machine is shared: a burst of other work falls on every codec of a round alike, not on one
codec's repeats). Speeds are MB of float32 input per
second, and ratios to SZ3 within the same case of the same run.

For inrcodec also: the matrix FLOPs per value torch counts for encoding and decoding, the share
of this machine's float32 matmul rate they run at, the peak resident memory of an encode, and
whether decoding gives the same bytes twice and with 2 threads (the error bounds and wrappers
such as numcodecs-safeguards rely on it).

    python pipelines/speed.py [--repeats 7] [--quick] [--markdown docs/speed.md --json docs/speed.json]
"""
# ruff: noqa: E402 (the thread count is set before numpy loads its BLAS)

import argparse
import copy
import json
import os
import time

# One thread each, numpy's BLAS included (a linear model's products are numpy's): set before
# numpy loads it. Two BLAS threads on a shared 2-core machine made them 20x slower in one run.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np
import torch
from pipelines_common import machine, publish, stamp, table

from inrcodec import INRCodec
from inrcodec.bench.datasets import DATASETS
from inrcodec.bench.machine import load_average, load_text, matmul_flops
from inrcodec.bench.metrics import PeakRSS, count_flops
from inrcodec.bench.peers import Context, sperr, sz3, zfp
from inrcodec.coding import kernels
from inrcodec.linear import LinearModel
from inrcodec.measure import psnr
from inrcodec.sample_data import A1B_TEST, load_a1b


def cases(quick: bool) -> dict[str, list[np.ndarray]]:
    test = load_a1b()[A1B_TEST]
    out = {"A1B, 1 field a chunk": [test[i:i + 1] for i in range(len(test))][:12 if quick else None],
           "A1B, 12 fields a chunk": [test[i:i + 12] for i in range(0, len(test), 12)]}
    if quick:
        return out
    nemo = np.ascontiguousarray(DATASETS["nemo"].load()[0], dtype=np.float32)
    y, x = np.mgrid[:1000, :1000] / 1000.0
    noise = np.random.default_rng(0).normal(size=x.shape)
    synthetic = 280 + 20 * np.sin(7 * x + 3 * y) * np.cos(5 * y) + 0.05 * noise
    return {**out, f"NEMO SST {nemo.shape[0]} x {nemo.shape[1]}, one chunk": [nemo[None]],
            "synthetic 1000 x 1000, one chunk": [synthetic.astype(np.float32)[None]]}


def codecs(chunks: list[np.ndarray], models: list[str]) -> dict:
    """(encode, decode) of each codec, at an error bound of 1% of the case's range; inrcodec's
    with each of ``models``."""
    values = np.concatenate([c[np.isfinite(c)] for c in chunks])
    value_range = float(values.max() - values.min())
    bound = float(f"{0.01 * value_range:.2g}")
    ctx = Context(np.dtype(np.float32), any(np.isnan(c).any() for c in chunks), value_range,
                  (bound,), False)
    out = {}
    for model in models:
        name = model if len(models) > 1 else "default"
        for label, codec in [(f"inrcodec {name} (40 dB floor)", INRCodec(model)),
                             (f"inrcodec {name} max_error={bound:g}", INRCodec(model, max_error=bound))]:
            out[label] = (codec.encode, lambda data, shape, dtype, codec=codec: codec.decode(data))
    peers = [sz3(ctx)[0], sperr(ctx)[0], next(p for p in zfp(ctx) if p.bound is not None)]
    return {**out, **{f"{p.family} {p.setting}": (p.encode, p.decode) for p in peers}}


def timed(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


# Each pass over a case's chunks is repeated within a round for at least this long, the best
# pass counting: a few milliseconds' pass timed once, right after another codec's work, is
# timed with cold caches and swung 0.19-0.27 of SZ3's decode from run to run (stop 35); an
# archive's reader or writer codes chunk after chunk.
PASS_SECONDS = 0.1


def timed_passes(function, repeats: int) -> tuple[float, object]:
    """``timed`` over at least ``repeats`` passes and ``PASS_SECONDS``."""
    best, result, began, passes = float("inf"), None, time.perf_counter(), 0
    while passes < repeats or time.perf_counter() - began < PASS_SECONDS:
        start = time.perf_counter()
        result = function()
        best, passes = min(best, time.perf_counter() - start), passes + 1
    return best, result


def measure(chunks, encode, decode, repeats: int) -> dict:
    megabytes = sum(c.size for c in chunks) * 4 / 1e6
    encode_s, encoded = timed_passes(lambda: [encode(c) for c in chunks], repeats)
    decode_s, decoded = timed_passes(
        lambda: [decode(e, c.shape, c.dtype) for e, c in zip(encoded, chunks)], repeats)
    original = np.concatenate([c.ravel() for c in chunks])
    restored = np.concatenate([np.asarray(d).ravel() for d in decoded])
    return {"encode_mb_s": megabytes / encode_s, "decode_mb_s": megabytes / decode_s,
            "bits_per_value": 8 * sum(map(len, encoded)) / original.size,
            "psnr_db": psnr(original, restored), "encoded": encoded}


def measure_rounds(chunks, codecs: dict, rounds: int) -> dict:
    """``measure`` of each of ``codecs`` ((encode, decode) by label) in ``rounds`` rounds, the
    codecs in turn within each, each codec's best encode and decode over them."""
    best = {}
    for _ in range(rounds):
        for label, (encode, decode) in codecs.items():
            row = measure(chunks, encode, decode, 1)
            if label in best:
                for key in ("encode_mb_s", "decode_mb_s"):
                    row[key] = max(row[key], best[label][key])
            best[label] = row
    return best


def network_costs(chunks, codec: INRCodec, encoded: list[bytes], rate: float) -> dict:
    """Matrix FLOPs per value of encoding and decoding the case's chunks, the share of the
    matmul rate that is at the measured speeds, peak memory, and bitwise-repeatable decoding."""
    values = sum(c.size for c in chunks)
    encode_flops, _ = count_flops(lambda: [codec.encode(c) for c in chunks])
    decode_flops, _ = count_flops(lambda: [codec.decode(e) for e in encoded])
    with PeakRSS() as peak:
        codec.encode(max(chunks, key=np.size))
    once = [codec.decode(e).tobytes() for e in encoded]
    twice = [codec.decode(e).tobytes() for e in encoded]
    torch.set_num_threads(2)
    try:
        threads = [codec.decode(e).tobytes() for e in encoded]
    finally:
        torch.set_num_threads(1)
    return {"linear_latents": codec.model.latent_dim if isinstance(codec.model, LinearModel) else None,
            "encode_flops_per_value": encode_flops / values,
            "decode_flops_per_value": decode_flops / values,
            "matmul_rate": rate, "encode_peak_mb": peak.mb,
            "repeatable": once == twice == threads}


SIZES = ((64, 4), (48, 3), (32, 4), (32, 3), (24, 3), (32, 2), (16, 3))  # (width, depth)


def architectures(repeats: int, compile_default: bool) -> list[dict]:
    """What the base network's size alone costs: a SIREN of each (width, depth) with 64 latents
    (random weights: speed does not depend on them) evaluated on 12 A1B-sized patches (37 x 49),
    and its 3-step latent fit, the encoder's main work. With ``compile_default``, the default
    size through torch.compile too (its compile time apart)."""
    from inrcodec.nn.coords import grid
    from inrcodec.nn.fit import fit_latents
    from inrcodec.nn.network import ModulatedSiren

    torch.manual_seed(0)
    coords, latents = grid((37, 49)), 0.1 * torch.randn(12, 64)
    target = torch.randn(12, coords.shape[0])
    megabytes = target.numel() * 4 / 1e6
    rows = []
    for width, depth in SIZES:
        net = ModulatedSiren(2, width, depth, 64).eval().requires_grad_(False)
        steps = torch.full((64,), 1e-2)
        with torch.no_grad():
            forward_s, _ = timed(lambda net=net: net(coords, latents), repeats + 2)
        fit_s, _ = timed(lambda net=net, steps=steps: fit_latents(
            net, coords, target, torch.ones_like(target), steps, 3),
                         repeats)
        per_point = 2 * (2 * width + (depth - 1) * width ** 2 + width)
        rows.append({"width": width, "depth": depth, "flops_per_value": per_point,
                     "forward_mb_s": megabytes / forward_s, "fit_mb_s": megabytes / fit_s})
        if (width, depth) == SIZES[0]:  # half precision, where this CPU has it
            for dtype in (torch.bfloat16, torch.float16):
                half = copy.deepcopy(net).to(dtype)
                with torch.no_grad():
                    forward_s, _ = timed(lambda half=half, dtype=dtype: half(coords.to(dtype),
                                                                          latents.to(dtype)), repeats)
                rows.append({**rows[0], "dtype": str(dtype).removeprefix("torch."),
                             "forward_mb_s": megabytes / forward_s, "fit_mb_s": None})
        if compile_default and (width, depth) == SIZES[0]:
            start = time.perf_counter()
            compiled = torch.compile(net)
            with torch.no_grad():
                compiled(coords, latents)
                compile_s = time.perf_counter() - start
                forward_s, out = timed(lambda compiled=compiled: compiled(coords, latents), repeats + 2)
                same = torch.equal(out, net(coords, latents))
            rows.append({**rows[0], "compiled": True, "compile_s": compile_s, "same": same,
                         "forward_mb_s": megabytes / forward_s, "fit_mb_s": None})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="A1B cases only, 12 single fields")
    p.add_argument("--models", nargs="+", default=["linear-2d", "default-2d", "universal-2d"],
                   help="inrcodec's models to measure, each beside the same peers (the "
                        "default, the SIREN it came from, the universal one)")
    p.add_argument("--markdown")
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    kernels_loaded = kernels.compiled() is not None  # as in a process compressing an archive
    began, loads = time.perf_counter(), [load_average()]
    rate = matmul_flops()
    results = {}
    for case, chunks in cases(args.quick).items():
        rows = measure_rounds(chunks, codecs(chunks, args.models), args.repeats)
        for label in rows:
            print(f"{case} | {label}: enc {rows[label]['encode_mb_s']:.2f} dec "
                  f"{rows[label]['decode_mb_s']:.2f} MB/s", flush=True)
        costs = {model: network_costs(chunks, INRCodec(model), rows[label]["encoded"], rate)
                 for model, label in zip(args.models, list(rows)[::2])}
        results[case] = {"rows": {k: {n: v for n, v in r.items() if n != "encoded"}
                                  for k, r in rows.items()}, "network": costs}
    sizes = architectures(args.repeats, not args.quick)
    lines = report(results, rate, args.repeats, time.perf_counter() - began, kernels_loaded)
    lines += size_report(sizes)
    lines[0] += load_text(loads + [load_average()])
    written = publish(lines, args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "matmul_flops": rate, "cases": results,
                       "architectures": sizes, "stamp": written or stamp()}, f, indent=1)


def size_report(sizes: list[dict]) -> list[str]:
    return ["**The base network's size alone** (12 patches of 37 x 49, 64 latents; fit: 3 inner "
            "steps, forward and backward; compiled: `torch.compile` of the same network, its "
            "compile time apart)", "", *table(
                ["width x depth", "matrix FLOPs per value", "forward MB/s", "fit MB/s", "note"],
                [[f"{r['width']} x {r['depth']}", f"{r['flops_per_value']:,}",
                  f"{r['forward_mb_s']:.3g}", "-" if r["fit_mb_s"] is None else f"{r['fit_mb_s']:.3g}",
                  (f"compiled in {r['compile_s']:.0f} s, output "
                   f"{'identical' if r['same'] else 'not bit-identical'} to eager")
                  if r.get("compiled") else f"in {r['dtype']}" if r.get("dtype")
                  else "today's default" if (r["width"], r["depth"]) == SIZES[0] else ""]
                 for r in sizes]), ""]


def fraction(ratio: float) -> str:
    """``1/234`` for small ratios, ``0.62`` or ``3.1`` otherwise."""
    return f"1/{1 / ratio:.0f}" if ratio < 0.1 else f"{ratio:.2g}"


def report(results: dict, rate: float, repeats: int, seconds: float,
           kernels_loaded: bool) -> list[str]:
    kernels_text = ("inrcodec's compiled kernels (coding/kernels.py) loaded from the start, as in "
                    "a process that has encoded or decoded 8 million points or more (a compressing "
                    "worker, a reader of an archive); a fresh process reading a few chunks decodes "
                    "with numpy, the same bytes (docs/cold-read.md)" if kernels_loaded else
                    "inrcodec's compiled kernels not at hand (numba missing or INRCODEC_KERNELS=numpy)")
    lines = [f"Encode and decode speed, one thread, best of {repeats} rounds (each round times "
             "every codec of a case in turn, each codec's encoding and decoding of the case's "
             f"chunks repeated for at least {PASS_SECONDS:g} s, the best pass counting: as chunk "
             f"after chunk of an archive, caches warm); {machine()}; float32 "
             f"matmul rate {rate / 1e9:.0f} GFLOP/s; the whole run took {seconds / 60:.1f} "
             "minutes (`pipelines/speed.py`). MB/s of float32 input; x SZ3: the speed as a "
             f"fraction of SZ3's in the same case of this run; {kernels_text}. A process codes "
             "and decodes each distinct NaN mask once (inrcodec/core.py): NEMO's land mask, the "
             "same in every time step of its archive, is decoded at the first round "
             "and reused by the others, as by an archive's later chunks.", ""]
    for case, result in results.items():
        rows = result["rows"]
        sz3_row = next(r for k, r in rows.items() if k.startswith("SZ3"))
        lines += [f"**{case}**", "", *table(
            ["codec", "bits/value", "PSNR dB", "encode MB/s", "x SZ3", "decode MB/s", "x SZ3"],
            [[k, f"{r['bits_per_value']:.3f}", f"{r['psnr_db']:.2f}", f"{r['encode_mb_s']:.3g}",
              fraction(r["encode_mb_s"] / sz3_row["encode_mb_s"]), f"{r['decode_mb_s']:.3g}",
              fraction(r["decode_mb_s"] / sz3_row["decode_mb_s"])] for k, r in rows.items()]), ""]
        share = lambda flops, mb_s: flops * mb_s * 1e6 / 4 / rate  # noqa: E731
        for (model, n), row in zip(result["network"].items(), list(rows.values())[::2]):
            encode, decode = n["encode_flops_per_value"], n["decode_flops_per_value"]
            lines += [f"inrcodec {model} (40 dB floor): {encode:,.0f} matrix FLOPs per value to "
                      f"encode ({100 * share(encode, row['encode_mb_s']):.0f}% of the matmul rate "
                      f"at its speed), {decode:,.0f} to decode "
                      f"({100 * share(decode, row['decode_mb_s']):.0f}%); resident "
                      f"memory one encode added {n['encode_peak_mb']:.0f} MB (memory malloc "
                      "already held is reused unseen); decoding "
                      f"{'gives the same bytes' if n['repeatable'] else 'DIFFERS'} twice and on 2 "
                      "threads." + ("" if not n.get("linear_latents") else
                                    f" (A linear model's products are numpy's, which torch's "
                                    f"counter does not see: {2 * n['linear_latents']} FLOPs a "
                                    "value wherever its latents are projected or decoded.)"), ""]
    return lines


if __name__ == "__main__":
    main()
