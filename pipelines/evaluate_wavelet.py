"""The wavelet coder (inrcodec/coding/wavelet.py, kind WAVELET) alone, against SPERR, SZ3 and
the interpolation coder (kind SPATIAL) at equal PSNR, on the benchmark datasets' test chunks.

Every codec runs at one setting for all of a dataset's chunks (our step code; SPERR's
quantization step ``q``, its own rate-distortion setting; SZ3's and our interpolation coder's
absolute bound), searched until the setting's PSNR brackets each target; bits per value at the
target are read between the bracket's two points (linear in log bits), the same way for every
codec. PSNR is over the range of the test split's finite values, as the benchmark takes it.
Ours and the interpolation coder go through the codec's own container (``core.encode``), so
every stored byte counts (header, NaN mask, checksum); SPERR gets the benchmark's NaN mask and
smooth fill (bench/peers.py: the codec's own), SZ3 keeps NaNs itself. On the datasets with a mask
the pipeline also measures the mask's two codings (format version 5's zlib-packed bits and
version 6's bilevel.py) and the wavelet coder with the fill before relaxation. Speeds: MB/s of
the data per CPU second of this process, at the 40 dB setting, one pass, inrcodec's compiled
kernels loaded from the start.

    pip install -e ".[bench]"
    python pipelines/evaluate_wavelet.py [--markdown docs/wavelet.md] [--datasets a1b,nemo]
"""

import argparse
import math
import time

import numpy as np
from pipelines_common import machine, publish_results, table

from inrcodec import core
from inrcodec.bench.datasets import DATASETS
from inrcodec.bench.peers import Context, adapted, numcodecs_chain, require, sz3
from inrcodec.coding import bilevel, kernels, wavelet
from inrcodec.coding.container import Container, Kind
from inrcodec.coding.mask import encode_mask
from inrcodec.model import Model, resolve
from inrcodec.modes import Mode
from inrcodec.sections import spatial

TARGETS = (30.0, 40.0, 50.0)
MOST_TRIALS = 24


class WaveletAt(Mode):
    """Every chunk by the wavelet coder at one step code (a pipeline's knob, not a setting), its
    missing points filled with ``sweeps`` relaxation sweeps a level (the codec's: RELAX_SWEEPS)."""

    def __init__(self, code: int, sweeps: int = wavelet.RELAX_SWEEPS):
        self.code, self.sweeps = code, sweeps

    def settings(self) -> dict:
        return {"step_code": self.code}

    promise, label = "the wavelet coder at one step", "wavelet"

    def encode(self, chunk, model, inner_steps: int) -> Container:
        values = np.where(chunk.finite, chunk.array, 0).astype(np.float64)
        if not chunk.finite.all():
            values = wavelet.fill(values, ~chunk.finite, self.sweeps)
        section, _ = wavelet.encode(values, self.code)
        return Container(kind=Kind.WAVELET, section=section, **chunk.header)


class SpatialWithin(Mode):
    def __init__(self, bound: float):
        self.bound = bound

    def settings(self) -> dict:
        return {"max_error": self.bound}

    promise, label = "spatial prediction within the bound", "spatial"

    def encode(self, chunk, model, inner_steps: int) -> Container:
        section, _ = spatial.encode_spatial(chunk.array, chunk.finite, self.bound)
        return Container(kind=Kind.SPATIAL, bound=self.bound, section=section, **chunk.header)


def through_codec(mode: Mode, model: Model):
    return (lambda chunk: core.encode(chunk, model, mode, 0),
            lambda data, shape, dtype: core.decode(data, model.hash, lambda: model))


def sz3_within(ctx: Context, bound: float):
    contender = sz3(Context(ctx.dtype, ctx.has_nans, ctx.value_range, (bound,), False))[0]
    return contender.encode, contender.decode


def sperr_q(ctx: Context, q: float):
    require("numcodecs_wasm_sperr", "numcodecs-wasm-sperr")
    import numcodecs

    return adapted(*numcodecs_chain(numcodecs.get_codec({"id": "sperr.rs", "mode": "q", "q": q})),
                   ctx, mask_nans=True)


def point(codec, chunks: list[np.ndarray], value_range: float) -> dict:
    """Bits per value, PSNR and CPU-second speeds of (encode, decode) on every chunk."""
    encode, decode = codec
    start = time.process_time()
    encoded = [encode(c) for c in chunks]
    middle = time.process_time()
    decoded = [decode(e, c.shape, c.dtype) for e, c in zip(encoded, chunks)]
    end = time.process_time()
    squared, count = 0.0, 0
    for c, d in zip(chunks, decoded):
        keep = np.isfinite(c)
        squared += float(np.sum((d[keep].astype(np.float64) - c[keep].astype(np.float64)) ** 2))
        count += int(keep.sum())
    rmse = math.sqrt(squared / count)
    megabytes = sum(c.nbytes for c in chunks) / 1e6
    return {"bits": 8 * sum(map(len, encoded)) / sum(c.size for c in chunks),
            "psnr": 20 * math.log10(value_range / rmse) if rmse > 0 else math.inf,
            "encode": megabytes / max(middle - start, 1e-9),
            "decode": megabytes / max(end - middle, 1e-9)}


def search(make, knob: float, target: float, chunks, value_range, integer: bool = False) -> dict:
    """The codec ``make(knob)``'s bits at ``target`` dB, its knob moved (finer is smaller) until
    two points bracket the target; the 40 dB pass's speeds come with it."""
    seen = {}

    def at(k):
        k = round(k) if integer else k
        if k not in seen:
            seen[k] = point(make(k), chunks, value_range)
        return k, seen[k]

    # Walk an octave (16 codes) at a time from the guess, then bisect the bracket.
    stride = 16 if integer else 2.0
    k, p = at(knob)
    passed = failed = None
    for _ in range(MOST_TRIALS):
        if p["psnr"] >= target:
            passed = k if passed is None else max(passed, k)
        else:
            failed = k if failed is None else min(failed, k)
        if passed is not None and failed is not None:
            break
        k, p = at(k + stride if integer and p["psnr"] >= target else
                  k - stride if integer else k * stride if p["psnr"] >= target else k / stride)
    for _ in range(MOST_TRIALS):
        if passed is None or failed is None:
            break
        gap = (failed - passed) if integer else failed / passed
        if gap <= (1 if integer else 1.05):
            break
        k, p = at((passed + failed) // 2 if integer else math.sqrt(passed * failed))
        if p["psnr"] >= target:
            passed = k
        else:
            failed = k
    if passed is None or failed is None:
        return {"bits": None, "note": "no bracket"}
    a, b = seen[passed], seen[failed]
    w = (target - b["psnr"]) / (a["psnr"] - b["psnr"]) if a["psnr"] > b["psnr"] else 1.0
    bits = math.exp(w * math.log(a["bits"]) + (1 - w) * math.log(b["bits"]))
    return {"bits": bits, "encode": a["encode"], "decode": a["decode"]}


def evaluate(name: str, model: Model, log) -> dict:
    dataset = DATASETS[name]
    chunks = dataset.test_chunks(dataset.load())
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    value_range = float(np.ptp(finite))
    dtype = chunks[0].dtype
    has_nans = any(not np.isfinite(c).all() for c in chunks)
    masked = has_nans or (dtype.kind in "iu" and any((c == 0).any() for c in chunks))
    row = {"dataset": name, "chunks": len(chunks), "shape": list(chunks[0].shape)}
    if masked:
        masks = [~np.isfinite(c) if c.dtype.kind == "f" else c == 0 for c in chunks]
        masks = [m for m in masks if m.any() and not m.all()]  # what a container stores
        row["mask bits"] = {coding: 8 * sum(len(code(m)) for m in masks) / sum(c.size for c in chunks)
                            for coding, code in (("zlib", encode_mask), ("bilevel", bilevel.encode))}
    for target in TARGETS:
        rms = value_range * 10 ** (-target / 20)
        ctx = Context(dtype, has_nans, value_range, (rms,), False)
        first_code = math.floor(16 * math.log2(math.sqrt(12) * rms))
        row[target] = {
            "wavelet": search(lambda k: through_codec(WaveletAt(k), model), first_code, target,
                              chunks, value_range, integer=True),
            "spatial": search(lambda b: through_codec(SpatialWithin(b), model), math.sqrt(3) * rms,
                              target, chunks, value_range),
            "SZ3": search(lambda b, ctx=ctx: sz3_within(ctx, b), math.sqrt(3) * rms, target, chunks,
                          value_range),
            "SPERR": search(lambda q, ctx=ctx: sperr_q(ctx, q), math.sqrt(12) * rms, target, chunks,
                            value_range),
        }
        if masked:  # the fill's part: the same coder with a piecewise-constant fill
            row[target]["unrelaxed fill"] = search(
                lambda k: through_codec(WaveletAt(k, sweeps=0), model), first_code, target,
                chunks, value_range, integer=True)
        log(f"{name} {target:g} dB: " + ", ".join(
            f"{k} {v['bits']:.4g}" if v["bits"] else f"{k} -" for k, v in row[target].items()))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    # The compiled kernels from the start, as in a compressing worker (speed.py): a process
    # loads them once its coders have passed 8 million points, and the first datasets' speeds
    # would be the numpy path's.
    kernels.compiled()
    began = time.perf_counter()
    model = resolve("universal-2d")  # these kinds never run it: its hash tags the chunks
    rows = [evaluate(name, model, lambda s: print(s, flush=True))
            for name in args.datasets.split(",")]

    def cell(v):
        return f"{v['bits']:.3g}" if v.get("bits") else "-"

    def fraction(a, b):
        return f"{a['bits'] / b['bits']:.2f}" if a.get("bits") and b.get("bits") else "-"

    def ratio(row, target):
        ours = row[target]["wavelet"]["bits"]
        peers = [row[target][p]["bits"] for p in ("SZ3", "SPERR") if row[target][p]["bits"]]
        return f"{ours / min(peers):.2f}" if ours and peers else "-"

    lines = ["# The wavelet coder alone against SPERR, SZ3 and spatial prediction at equal PSNR",
             "",
             f"Generated by `python pipelines/evaluate_wavelet.py` on {machine()}, in "
             f"{(time.perf_counter() - began) / 60:.1f} minutes. Bits per value (every stored "
             "byte) at 30, 40 and 50 dB PSNR over each dataset's test range, each codec at one "
             "setting for all its test chunks, read between the two settings that bracket the "
             "target. 'wavelet' is kind WAVELET (coding/wavelet.py), 'spatial' kind SPATIAL "
             "(the interpolation coder within an absolute bound), SPERR at its quantization "
             "step `q`, SZ3 within an absolute bound. 'x best peer': wavelet over the better of "
             "SZ3 and SPERR.", ""]
    columns = ["dataset", "chunks"]
    for t in TARGETS:
        columns += [f"{t:g} dB wavelet", "spatial", "SZ3", "SPERR", "x best peer"]
    lines += table(columns, [[r["dataset"], f"{r['chunks']} of {tuple(r['shape'])}"]
                             + sum([[cell(r[t]["wavelet"]), cell(r[t]["spatial"]), cell(r[t]["SZ3"]),
                                     cell(r[t]["SPERR"]), ratio(r, t)] for t in TARGETS], [])
                             for r in rows])
    lines += ["", "Speed at the 40 dB setting, MB/s per CPU second (encode / decode):", ""]
    lines += table(["dataset", "wavelet", "spatial", "SZ3", "SPERR"],
                   [[r["dataset"]] + [f"{r[40.0][k].get('encode', 0):.3g} / "
                                      f"{r[40.0][k].get('decode', 0):.3g}"
                                      for k in ("wavelet", "spatial", "SZ3", "SPERR")]
                    for r in rows])
    masked = [r for r in rows if "unrelaxed fill" in r[TARGETS[0]]]
    if masked:
        lines += ["", "## The mask and the fill", "",
                  "On the datasets with a mask (NaNs, or an integer chunk's zeros). The mask's "
                  "bits per value (over all the test chunks' values) in its two codings: "
                  "zlib-compressed packed bits (format versions 1-5) and `coding/bilevel.py` "
                  "(version 6):", ""]
        lines += table(["dataset", "zlib", "bilevel", "x"],
                       [[r["dataset"], f"{r['mask bits']['zlib']:.4f}",
                         f"{r['mask bits']['bilevel']:.4f}",
                         f"{r['mask bits']['bilevel'] / r['mask bits']['zlib']:.2f}"]
                        for r in masked])
        lines += ["", "The wavelet coder's bits per value (bilevel mask included) with its missing "
                  "points filled by the blocks' averages alone (`fill(..., sweeps=0)`, the fill "
                  f"before) and relaxed ({wavelet.RELAX_SWEEPS} sweeps a level, the codec's):", ""]
        lines += table(["dataset"] + sum([[f"{t:g} dB unrelaxed", "relaxed", "x"] for t in TARGETS],
                                         []),
                       [[r["dataset"]] + sum([[cell(r[t]["unrelaxed fill"]), cell(r[t]["wavelet"]),
                                               fraction(r[t]["wavelet"], r[t]["unrelaxed fill"])]
                                              for t in TARGETS], []) for r in masked])
    publish_results(lines, rows, args.markdown)


if __name__ == "__main__":
    main()
