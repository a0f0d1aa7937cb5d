"""The interpolation coder (inrcodec/coding/interp/) used alone, against SZ3 (and SPERR where
installed) at the same absolute bounds, on the benchmark datasets' test chunks.

Bounds are 10%, 1%, 0.1% and 0.01% of each dataset's test range, rounded as the benchmark
rounds them (two significant digits; at least 1, and whole, on integer data). The coder gets the
half step the codec would give it (a little inside the bound, less the rounding to the data's
dtype); its output is cast to the dtype as the codec does (integers rounded). Bits per value
count every byte: for chunks with NaNs the coder is charged the codec's NaN mask too (the
bilevel coder's, coding/bilevel.py; SZ3 keeps NaNs itself; SPERR gets the benchmark's mask).
Every non-NaN value of every codec is checked against the bound. Speeds are MB/s of the data's
own bytes per CPU second of this process (inrcodec's compiled kernels loaded from the start;
every codec here runs on one thread; CPU time, not wall time, so that other work on a shared
machine slows no codec), in this run, the best of ``--repeats`` passes.

    pip install -e ".[bench]"   (pysz; SPERR via numcodecs-wasm-sperr, optional)
    python pipelines/evaluate_interp.py [--markdown docs/interp.md]

The measurements go to the markdown's .json beside it; ``--from-json`` rewrites the markdown
from them without measuring again.
"""

import argparse
import json
import math
import sys
import time
from collections import Counter

import numpy as np

from inrcodec.bench.datasets import DATASETS
from inrcodec.bench.machine import machine
from inrcodec.bench.peers import Context, sperr, sz3
from inrcodec.bench.stamp import stamp, stamped
from inrcodec.coding import bilevel, interp, kernels

FRACTIONS = (1e-1, 1e-2, 1e-3, 1e-4)
QUICK = ("a1b", "eofs_sst", "ostia", "uwnd", "example4d")  # --quick's datasets: small, varied


def bounds_for(value_range: float, dtype: np.dtype) -> list[tuple[float, float]]:
    """(fraction, absolute bound) pairs, as the benchmark rounds them."""
    out = []
    for f in FRACTIONS:
        b = float(f"{value_range * f:.2g}")
        if dtype.kind in "iu":
            b = max(1.0, math.floor(b))
        if all(b != o for _, o in out):
            out.append((f, b))
    return out


def half_step(bound: float, dtype: np.dtype, magnitude: float) -> float:
    """The coder's half step: the codec's slack below the bound, and room for the final cast."""
    slack = bound * 2.0 ** -16
    if dtype.kind in "iu":
        return math.floor(bound) + 0.5 - slack
    return bound - slack - float(np.spacing(np.asarray(magnitude, dtype=dtype)))


class Ours:
    """The coder as the codec would use it alone: a chunk to bytes and back in its dtype."""

    def __init__(self, bound: float, dtype: np.dtype, magnitude: float):
        self.half = half_step(bound, dtype, magnitude)
        self.dtype = dtype
        self.flags = {}  # id of a chunk -> the flags byte its last encoding chose

    def encode(self, chunk: np.ndarray) -> bytes:
        values = chunk.astype(np.float64)
        missing = np.isnan(values)
        missing = missing if missing.any() else None
        data, _ = interp.encode(np.where(np.isnan(values), 0.0, values), self.half, missing)
        self.flags[id(chunk)] = data[0]
        mask = b"" if missing is None else bilevel.encode(missing)
        return len(mask).to_bytes(4, "little") + mask + data

    def decode(self, data: bytes, shape: tuple, dtype: np.dtype) -> np.ndarray:
        length = int.from_bytes(data[:4], "little")
        missing = bilevel.decode(data[4:4 + length], shape) if length else None
        recon = interp.decode(data[4 + length:], shape, self.half, missing)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            return np.clip(np.rint(recon), info.min, info.max).astype(dtype)
        out = recon.astype(dtype)
        if missing is not None:
            out[missing] = np.nan
        return out

    @staticmethod
    def size(data: bytes) -> int:
        """Bytes stored: the mask and the section (the 4-byte length is this script's framing;
        the codec's container spends a varint on it)."""
        return len(data) - 4


def run_codec(encode, decode, chunks: list[np.ndarray], bound: float, repeats: int,
              size=len) -> dict:
    """Bytes, bound check and best-of-``repeats`` speeds of one codec on ``chunks``."""
    encode(chunks[0])  # first-call costs (imports, tables) are not speed
    best_enc = best_dec = math.inf
    for _ in range(repeats):
        start = time.process_time()
        encoded = [encode(c) for c in chunks]
        middle = time.process_time()
        decoded = [decode(e, c.shape, c.dtype) for e, c in zip(encoded, chunks)]
        end = time.process_time()
        best_enc, best_dec = min(best_enc, middle - start), min(best_dec, end - middle)
    values = sum(c.size for c in chunks)
    worst, misses = 0.0, 0
    for c, d in zip(chunks, decoded):
        keep = ~np.isnan(c) if c.dtype.kind == "f" else np.ones(c.shape, bool)
        error = np.abs(d.astype(np.float64) - c.astype(np.float64))[keep]
        worst = max(worst, float(error.max(initial=0)))
        misses += int((error > bound).sum())
    megabytes = sum(c.nbytes for c in chunks) / 1e6
    return {"bits": 8 * sum(size(e) for e in encoded) / values, "worst": worst, "misses": misses,
            "values": values, "encode": megabytes / best_enc, "decode": megabytes / best_dec}


def evaluate(name: str, chunks: list[np.ndarray], repeats: int, with_sperr: bool, log) -> list[dict]:
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    value_range = float(np.ptp(finite))
    magnitude = float(np.abs(finite).max())
    dtype = chunks[0].dtype
    has_nans = any(not np.isfinite(c).all() for c in chunks)
    bounds = bounds_for(value_range, dtype)
    ctx = Context(dtype, has_nans, value_range, tuple(b for _, b in bounds), False)
    peers = {"SZ3": sz3(ctx)}
    if with_sperr:
        try:
            peers["SPERR"] = sperr(ctx)
        except ImportError as e:
            log(f"SPERR skipped: {e}")
    mask_bits = 8 * sum(len(bilevel.encode(np.isnan(c))) for c in chunks
                        if c.dtype.kind == "f" and np.isnan(c).any()) / sum(c.size for c in chunks)
    rows = []
    for i, (fraction, bound) in enumerate(bounds):
        ours = Ours(bound, dtype, magnitude)
        row = {"dataset": name, "fraction": fraction, "bound": bound, "mask_bits": mask_bits,
               "ours": run_codec(ours.encode, ours.decode, chunks, bound, repeats, ours.size),
               "settings": {f"{'cubic' if f & 1 else 'linear'} {f >> 1 & 3} {f >> 3 & 3}"
                            f"{' rev' if f >> 5 else ''}": n
                            for f, n in sorted(Counter(ours.flags.values()).items())}}
        for peer, contenders in peers.items():
            try:
                row[peer] = run_codec(contenders[i].encode, contenders[i].decode, chunks, bound,
                                      1 if peer == "SPERR" else repeats)
            except Exception as e:  # a peer that fails on some data is reported, not fatal
                log(f"{name} {peer} at {bound:g} failed: {type(e).__name__}: {e}")
        rows.append(row)
        log(f"  {name:14} {fraction:g} ({bound:.3g}): ours {row['ours']['bits']:.3f} "
            + " ".join(f"{p} {row[p]['bits']:.3f}" for p in peers if p in row)
            + f"  enc {row['ours']['encode']:.1f}/{row['SZ3']['encode'] if 'SZ3' in row else 0:.1f} MB/s")
    return rows


def large_speed(repeats: int) -> list[dict]:
    """Speed of the coder and SZ3 on whole arrays, not chunks: GloSea4 (78, 145, 192) float32
    and a smooth synthetic 1000 x 1000 float32 field."""
    y, x = np.mgrid[:1000, :1000] / 1000.0
    rng = np.random.default_rng(0)
    synthetic = (280 + 20 * np.sin(7 * x + 3 * y) * np.cos(5 * y) + 0.05 * rng.normal(size=x.shape)
                 ).astype(np.float32)
    arrays = {"synthetic 1000 x 1000": synthetic}
    try:
        arrays["glosea4 (78, 145, 192)"] = np.ascontiguousarray(DATASETS["glosea4"].load())
    except Exception:
        pass
    out = []
    for label, array in arrays.items():
        value_range = float(np.ptp(array))
        for fraction in (1e-2, 1e-3):
            bound = float(f"{value_range * fraction:.2g}")
            ours = Ours(bound, array.dtype, float(np.abs(array).max()))
            ctx = Context(array.dtype, False, value_range, (bound,), False)
            peer = sz3(ctx)[0]
            out.append({"array": label, "fraction": fraction, "bound": bound,
                        "ours": run_codec(ours.encode, ours.decode, [array], bound, repeats, ours.size),
                        "SZ3": run_codec(peer.encode, peer.decode, [array], bound, repeats)})
    return out


DESIGN = """\
## What the coder does, and why (see the module's docstring for the bitstream)

- **Prediction**: SZ3's multilevel interpolation, one vectorised numpy pass per level and axis,
  cubic or linear (a flag per chunk), with QoZ's level-wise bounds
  (`h_l = h / min(alpha**(l-1), beta)`, four modes, a field per chunk). Choosing per chunk pays:
  the columns below show every combination in use; cubic wins on smooth fields at tight bounds,
  linear (with level bounds) at loose ones and on masked or noisy data. The choice is made on
  trial sweeps over a central block of up to 32768 points: every interpolant and mode swept at
  once (one batched numpy pass per level and axis; over 16384 points, the interpolant at mode 1
  first), their bits estimated from per-cell histograms, then the two best (one on a large
  block) in the other axis order. The axis order matters on
  anisotropic fields: measured while building it, on six chunks at 1% of the range, last-to-first
  saves 2.5% on A1B and 1% on example4d, and costs 40% on uwnd and 13% on GloSea4, hence a
  per-chunk flag.
- **Missing points** are neither coded nor used as data: they take their prediction, so their
  neighbours predict from something the decoder has too.
- **Tables**: per level one rms code, per chunk one "activity" code and a table shape; the
  point's table is `max(level code, activity code + 4 * bucket)`, bucket = octaves of the local
  activity (first and third differences of the known neighbours, in quantizer steps). Measured
  while building it (the first six test chunks of a dataset, estimated bits, 1% of the range
  unless said): contexts save 26-31% over one table per level on example4d (flat background),
  5-6% on A1B, 2% on hybrid_height (0.1%), nothing on turbulence; a Laplace table beats a
  logistic by 1.4-3% (A1B 1.452 -> 1.432, example4d 1.677 -> 1.635, turbulence 0.487 -> 0.474
  bits/value), and the two Laplace mixtures and the logistic stay as per-chunk options because
  each wins on some chunks (the settings column). The two-parameter context rule spends about
  6 bytes on a 37 x 49 chunk; a code per (level, bucket) cell (7 bits each) lost on A1B (1.472
  vs 1.432) and won on example4d (1.542 vs 1.635). Stored histograms were not built: the
  tables' cost sits 5-16% above the empirical entropy of the (level, bucket) cells (16% on the
  small A1B chunks, where that entropy is an optimistic bound; 8% on turbulence), an upper
  bound on what they could save before paying for themselves.
- **Escapes**: a symbol beyond a table's +-K (K = 16 rms, at most 4096) is coded as an escape
  and its q stored as an svarint beside the range-coded stream, so any integer q codes.
- **Stream tail**: up to 65536 symbols the range coder's last word is cut to the fewest bytes
  that still decode (found from the coder's final interval, `entropy.shortest_cut`; tested
  against trying every cut with the decoder), which saves 2-4 bytes a chunk.
"""


def markdown(rows: list[dict], speed: list[dict], notes: list[str], seconds: float,
             machine_line: str, date: str) -> str:
    peers = [p for p in ("SZ3", "SPERR") if any(p in r for r in rows)]
    lines = ["# The interpolation coder alone against SZ3" + (" and SPERR" if "SPERR" in peers else ""),
             "", "Produced by `python pipelines/evaluate_interp.py` "
             f"({date}, {seconds / 60:.1f} minutes) on {machine_line}.", "",
             __doc__.split("\n\n")[0].replace("\n", " "), "",
             "The coder is `inrcodec/coding/interp/` with `values` = the data (no network). "
             "Bits per value count every stored byte of every test chunk, the NaN mask "
             "included (the codec's own mask, `coding/bilevel.py`, which this coder does not "
             "replace). `misses`: "
             "values outside the bound (of all values checked). Settings: the interpolant, "
             "level-bound mode (`interp.BOUND_MODES`), table shape (`interp.SHAPES`), `rev` "
             "where the axes went last to first, and how many chunks chose them.", ""]
    header = ["dataset", "bound (of range)", "bound", "interp b/v", "of which NaN mask", "SZ3 b/v",
              "interp / SZ3"]
    if "SPERR" in peers:
        header += ["SPERR b/v", "interp / best peer"]
    header += ["interp misses", "SZ3 misses"] + (["SPERR misses"] if "SPERR" in peers else [])
    header += ["interp enc / dec MB/s", "SZ3 enc / dec MB/s",
               "settings (interpolant, bound mode, shape): chunks"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ratios, best_ratios = [], []
    for r in rows:
        o, s = r["ours"], r.get("SZ3")
        cells = [r["dataset"], f"{r['fraction']:g}", f"{r['bound']:.3g}", f"{o['bits']:.3f}",
                 f"{r['mask_bits']:.3f}", f"{s['bits']:.3f}" if s else "-",
                 f"{o['bits'] / s['bits']:.2f}" if s else "-"]
        if s:
            ratios.append(o["bits"] / s["bits"])
        if "SPERR" in peers:
            p = r.get("SPERR")
            best = min(x["bits"] for x in (s, p) if x)
            best_ratios.append(o["bits"] / best)
            cells += [f"{p['bits']:.3f}" if p else "-", f"{o['bits'] / best:.2f}"]
        cells += [f"{o['misses']}/{o['values']}", f"{s['misses']}" if s else "-"]
        if "SPERR" in peers:
            cells.append(f"{r['SPERR']['misses']}" if "SPERR" in r else "-")
        cells += [f"{o['encode']:.1f} / {o['decode']:.1f}",
                  f"{s['encode']:.1f} / {s['decode']:.1f}" if s else "-",
                  ", ".join(f"{label}: {n}" for label, n in r["settings"].items())]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"interp / SZ3: median {np.median(ratios):.2f}, worst {max(ratios):.2f}, "
              f"{sum(x <= 1 for x in ratios)} of {len(ratios)} pairs at or under SZ3."]
    if best_ratios:
        lines.append(f"interp / better of SZ3 and SPERR: median {np.median(best_ratios):.2f}, "
                     f"{sum(x <= 1 for x in best_ratios)} of {len(best_ratios)} pairs at or under it.")
    misses = sum(r["ours"]["misses"] for r in rows)
    checked = sum(r["ours"]["values"] for r in rows)
    lines += [f"interp: {misses} of {checked} checked values outside their bound.", ""]
    if speed:
        lines += ["## Speed on whole arrays (one chunk each)", "",
                  "| array | bound (of range) | interp b/v | SZ3 b/v | interp enc / dec MB/s | "
                  "SZ3 enc / dec MB/s | enc ratio | dec ratio |", "|---|---|---|---|---|---|---|---|"]
    for r in speed:
        o, s = r["ours"], r["SZ3"]
        lines.append(f"| {r['array']} | {r['fraction']:g} | {o['bits']:.3f} | {s['bits']:.3f} | "
                     f"{o['encode']:.1f} / {o['decode']:.1f} | {s['encode']:.1f} / {s['decode']:.1f} | "
                     f"{o['encode'] / s['encode']:.3f} | {o['decode'] / s['decode']:.3f} |")
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    lines += ["", DESIGN]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-sperr", action="store_true")
    p.add_argument("--markdown", default="docs/interp.md")
    p.add_argument("--from-json", action="store_true", help="rewrite the markdown from its .json")
    p.add_argument("--quick", action="store_true",
                   help=f"a check, not the page: datasets {' '.join(QUICK)} unless --datasets says, "
                        "one repeat, no SPERR, no whole arrays, the markdown to "
                        "/tmp/interp-quick.md unless --markdown says")
    args = p.parse_args()
    # The compiled kernels from the start, as in a compressing worker (speed.py): a process
    # loads them once its coders have passed 8 million points, and the first datasets' speeds
    # would be the numpy path's.
    kernels.compiled()
    if args.quick:
        given = " ".join(sys.argv[1:])
        if "--datasets" not in given:
            args.datasets = list(QUICK)
        if "--markdown" not in given:
            args.markdown = "/tmp/interp-quick.md"
        args.repeats, args.no_sperr = 1, True
    results_path = args.markdown.rsplit(".", 1)[0] + ".json"
    if args.from_json:  # the stamp of the run that measured them, if it left one
        with open(results_path) as f:
            results = json.load(f)
        made = results.pop("stamp", None)
    else:
        results = measure(args)
        made = stamp()
        with open(results_path, "w") as f:
            json.dump({**results, "stamp": made}, f, indent=1)
    text = markdown(**results)
    with open(args.markdown, "w") as f:
        f.write(stamped(text, made) if made else text)
    print(text)


def measure(args: argparse.Namespace) -> dict:
    start, notes, rows = time.perf_counter(), [], []

    def log(text: str) -> None:
        print(text, flush=True)
        if not text.startswith("  "):
            notes.append(text)

    for name in args.datasets:
        ds = DATASETS[name]
        try:
            array = ds.load()
        except Exception as e:  # a dataset whose extra is not installed is skipped
            log(f"skipped dataset {name}: {e}")
            continue
        chunks = ds.test_chunks(array)
        print(f"{name}: {len(chunks)} test chunks of {ds.chunks} {array.dtype}", flush=True)
        rows += evaluate(name, chunks, args.repeats, not args.no_sperr, log)
    notes.append("A1B fields 192-239, one field per chunk, are the `a1b` rows (that dataset's "
                 "test split and chunking).")
    speed = [] if args.quick else large_speed(args.repeats)
    return {"rows": rows, "speed": speed, "notes": notes, "seconds": time.perf_counter() - start,
            "machine_line": machine(), "date": time.strftime("%Y-%m-%d")}


if __name__ == "__main__":
    main()
