"""Chunks that stack unlike fields (issue 31): inrcodec against SZ3, SPERR and ZFP on the stacked
chunks of ``inrcodec.bench.stacked`` (levels, variables, an anomaly beside its field, a 4-D
(time, level) chunk; ensemble members and model levels as controls of alike slices).

Within absolute bounds of 10%, 1%, 0.1% and 0.01% of each chunk's range (two significant
digits): bits per value of the default codec with ``max_error`` on the whole chunk and on its
slices (its 2-D fields) each alone, of SZ3 on both, and of SPERR and ZFP (fixed accuracy) on the
whole chunk; each codec's worst error over the bound (every value checked). At PSNR targets of
25-50 dB over the chunk's range: the default codec with ``min_psnr`` on the whole chunk, and with
``max_rmse`` (the same RMS error) on each slice alone, against the bits SZ3, SPERR (its
quantization step) and ZFP (its tolerance) need for that PSNR on the whole chunk, read between
the two settings that bracket it (``evaluate_wavelet.search``). Every byte counts; every codec
runs on one thread (inrcodec's compiled kernels loaded from the start). SPERR is left out where
numcodecs-wasm-sperr is not installed.

    python pipelines/stacked.py [--markdown docs/stacked.md] [--chunks levels,members]
                                [--fractions 0.01] [--targets 40]
"""

import argparse
import math
import time

import numpy as np
import torch
from evaluate_wavelet import search, sperr_q, sz3_within
from pipelines_common import machine, publish_results, table

from inrcodec import INRCodec
from inrcodec.bench.peers import Context, sperr, sz3, zfp
from inrcodec.bench.stacked import ALIKE, slices, stacked_chunks
from inrcodec.coding import kernels
from inrcodec.measure import psnr

FRACTIONS = (1e-1, 1e-2, 1e-3, 1e-4)
TARGETS = (25.0, 30.0, 35.0, 40.0, 45.0, 50.0)
PEERS = ("SZ3", "SPERR", "ZFP")


def at_bound(encode, decode, fields: list[np.ndarray], bound: float) -> dict:
    """Bits per value and worst error over the bound of (encode, decode) on ``fields``."""
    size, worst = 0, 0.0
    for x in fields:
        data = encode(x)
        size += len(data)
        error = np.abs(decode(data, x.shape, x.dtype).astype(np.float64) - x.astype(np.float64))
        worst = max(worst, float(error.max()))
    return {"bits": 8 * size / sum(x.size for x in fields), "worst": worst / bound}


def ours(codec: INRCodec):
    return codec.encode, lambda data, shape, dtype: codec.decode(data)


def bounded(x: np.ndarray, fraction: float, with_sperr: bool, log) -> dict:
    value_range = float(np.ptp(x.astype(np.float64)))
    bound = float(f"{value_range * fraction:.2g}")
    ctx = Context(x.dtype, False, value_range, (bound,), False)
    codec = INRCodec(max_error=bound)
    row = {"fraction": fraction, "bound": bound,
           "inrcodec": at_bound(*ours(codec), [x], bound),
           "inrcodec slices": at_bound(*ours(codec), slices(x), bound)}
    peers = {"SZ3": sz3(ctx)[0],
             "ZFP": next(c for c in zfp(ctx) if c.family == "ZFP fixed-accuracy")}
    if with_sperr:
        peers["SPERR"] = sperr(ctx)[0]
    for name, peer in peers.items():
        try:
            row[name] = at_bound(peer.encode, peer.decode, [x], bound)
        except Exception as e:  # a peer that fails on some chunk is reported, not fatal
            log(f"{name} within {bound:g} failed: {type(e).__name__}: {e}")
    row["SZ3 slices"] = at_bound(peers["SZ3"].encode, peers["SZ3"].decode, slices(x), bound)
    return row


def zfp_within(ctx: Context, tolerance: float):
    one = Context(ctx.dtype, ctx.has_nans, ctx.value_range, (tolerance,), False)
    contender = next(c for c in zfp(one) if c.family == "ZFP fixed-accuracy")
    return contender.encode, contender.decode


def at_psnr(x: np.ndarray, target: float, with_sperr: bool) -> dict:
    value_range = float(np.ptp(x.astype(np.float64)))
    rms = value_range * 10 ** (-target / 20)
    codec = INRCodec(min_psnr=target)
    data = codec.encode(x)
    each = INRCodec(max_rmse=rms)
    alone = [each.encode(f) for f in slices(x)]
    decoded = np.stack([each.decode(d) for d in alone]).reshape(x.shape)
    row = {"target": target,
           "inrcodec": {"bits": 8 * len(data) / x.size, "psnr": psnr(x, codec.decode(data))},
           "inrcodec slices": {"bits": 8 * sum(map(len, alone)) / x.size,
                               "psnr": psnr_over(x, decoded, value_range)}}
    ctx = Context(x.dtype, False, value_range, (rms,), False)
    makers = {"SZ3": (lambda b: sz3_within(ctx, b), math.sqrt(3) * rms),
              "ZFP": (lambda b: zfp_within(ctx, b), math.sqrt(3) * rms)}
    if with_sperr:
        makers["SPERR"] = (lambda q: sperr_q(ctx, q), math.sqrt(12) * rms)
    for name, (make, first) in makers.items():
        found = search(make, first, target, [x], value_range)
        row[name] = {"bits": found["bits"]}
    return row


def psnr_over(x: np.ndarray, decoded: np.ndarray, value_range: float) -> float:
    rmse = float(np.sqrt(np.mean((decoded.astype(np.float64) - x.astype(np.float64)) ** 2)))
    return 20 * math.log10(value_range / rmse) if rmse > 0 else math.inf


def has_sperr(log) -> bool:
    try:
        sperr(Context(np.dtype(np.float32), False, 1.0, (0.1,), False))
    except ImportError as e:
        log(f"SPERR left out: {e}")
        return False
    return True


def cell(value, digits: str = ".3f") -> str:
    return "-" if value is None else format(value, digits)


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def report(rows: list[dict], notes: list[str], minutes: float) -> list[str]:
    lines = ["# Chunks that stack unlike fields", "",
             f"Made by `python pipelines/stacked.py` on {machine()}, in {minutes:.1f} minutes. "
             + " ".join(__doc__.split("\n\n")[1].split()).replace("``", "`"), "",
             "The chunks (`inrcodec/bench/stacked.py`; alike slices, the controls: "
             f"{', '.join(ALIKE)}):", ""]
    lines += table(["chunk", "shape", "values", "range"],
                   [[r["chunk"], " x ".join(map(str, r["shape"])), r["values"],
                     f"{r['range']:.4g}"] for r in rows])
    lines += ["", "## Within a bound", "",
              "Bits per value; `worst` is each codec's largest error over the bound. "
              "'x slices': the whole chunk over its slices alone (the promise: at most about "
              "1.25); 'x SZ3', 'x best': inrcodec over SZ3 and over the better of SZ3 and SPERR "
              "on the whole chunk.", ""]
    columns = ["chunk", "bound (of range)", "bound", "inrcodec", "slices alone", "x slices",
               "SZ3", "SZ3 slices alone", "SPERR", "ZFP", "x SZ3", "x best",
               "worst: inrcodec / slices / SZ3 / SPERR / ZFP"]
    body = []
    for r in rows:
        for b in r["bounded"]:
            best = min((b[p]["bits"] for p in ("SZ3", "SPERR") if p in b), default=None)
            bits = {k: b[k]["bits"] if k in b else None
                    for k in ("inrcodec", "inrcodec slices", "SZ3", "SZ3 slices", "SPERR", "ZFP")}
            body.append([r["chunk"], f"{b['fraction']:g}", f"{b['bound']:.3g}",
                         cell(bits["inrcodec"]), cell(bits["inrcodec slices"]),
                         ratio(bits["inrcodec"], bits["inrcodec slices"]), cell(bits["SZ3"]),
                         cell(bits["SZ3 slices"]), cell(bits["SPERR"]), cell(bits["ZFP"]),
                         ratio(bits["inrcodec"], bits["SZ3"]), ratio(bits["inrcodec"], best),
                         " / ".join(f"{b[k]['worst']:.2f}" if k in b else "-"
                                    for k in ("inrcodec", "inrcodec slices", "SZ3", "SPERR",
                                              "ZFP"))])
    lines += table(columns, body)
    lines += ["", "## At a PSNR target", "",
              "Bits per value at each target (dB over the chunk's range): inrcodec with "
              "`min_psnr` on the whole chunk (the PSNR it reached in brackets), with `max_rmse` "
              "on each slice alone, and the bits each peer needs on the whole chunk for the "
              "target ('-': its settings did not bracket it). 'x best': inrcodec over the "
              "better of SZ3 and SPERR.", ""]
    columns = ["chunk", "target dB", "inrcodec", "slices alone", "x slices", "SZ3", "SPERR",
               "ZFP", "x SZ3", "x best"]
    body = []
    for r in rows:
        for p in r["psnr"]:
            best = min((p[k]["bits"] for k in ("SZ3", "SPERR") if k in p and p[k]["bits"]),
                       default=None)
            body.append([r["chunk"], f"{p['target']:g}",
                         f"{p['inrcodec']['bits']:.3f} ({p['inrcodec']['psnr']:.1f})",
                         f"{p['inrcodec slices']['bits']:.3f}",
                         ratio(p["inrcodec"]["bits"], p["inrcodec slices"]["bits"]),
                         *[cell(p[k]["bits"]) if k in p else "-" for k in ("SZ3", "SPERR", "ZFP")],
                         ratio(p["inrcodec"]["bits"], p["SZ3"]["bits"]),
                         ratio(p["inrcodec"]["bits"], best)])
    lines += table(columns, body)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--markdown", default="docs/stacked.md")
    p.add_argument("--chunks", help="comma-separated names (default: every chunk built)")
    p.add_argument("--fractions", type=float, nargs="+", default=FRACTIONS)
    p.add_argument("--targets", type=float, nargs="+", default=TARGETS)
    args = p.parse_args()
    # The compiled kernels from the start, as in a compressing worker (speed.py): a process
    # loads them once its coders have passed 8 million points, and the first datasets' speeds
    # would be the numpy path's.
    kernels.compiled()
    torch.set_num_threads(1)
    began, notes = time.perf_counter(), []

    def log(text: str) -> None:
        print(text, flush=True)
        notes.append(text)

    chunks = stacked_chunks()
    if args.chunks:
        chunks = {name: chunks[name] for name in args.chunks.split(",")}
    with_sperr = has_sperr(log)
    rows = []
    for name, x in chunks.items():
        row = {"chunk": name, "shape": list(x.shape), "values": int(x.size),
               "range": float(np.ptp(x.astype(np.float64))), "bounded": [], "psnr": []}
        for fraction in args.fractions:
            row["bounded"].append(bounded(x, fraction, with_sperr, log))
            b = row["bounded"][-1]
            print(f"{name} {fraction:g}: " + ", ".join(
                f"{k} {v['bits']:.3f}" for k, v in b.items() if isinstance(v, dict)), flush=True)
        for target in args.targets:
            row["psnr"].append(at_psnr(x, target, with_sperr))
            print(f"{name} {target:g} dB: " + ", ".join(
                f"{k} {cell(v['bits'])}" for k, v in row["psnr"][-1].items()
                if isinstance(v, dict)), flush=True)
        rows.append(row)
    lines = report(rows, notes, (time.perf_counter() - began) / 60)
    publish_results(lines, {"rows": rows, "notes": notes}, args.markdown)


if __name__ == "__main__":
    main()
