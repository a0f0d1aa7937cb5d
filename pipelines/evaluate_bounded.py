"""Error bounds against SZ3 and SPERR on every benchmark dataset, at the same absolute bounds and
on the same chunks; then the pointwise relative bound on the positive fields.

For each dataset of ``inrcodec bench`` (its test split and chunking, its bundled model) and each
bound of 10%, 1%, 0.1% and 0.01% of the test data's range (rounded as the benchmark rounds
them: two significant digits, whole and at least 1 on integer data), the default error-bounded
codec, ``INRCodec(model, max_error=bound)``, compresses every test chunk beside SZ3 (pysz) and
SPERR (numcodecs-wasm-sperr, where installed). Bits per value count every stored byte; every
finite value of every codec is checked against the bound. The kinds column says how each
inrcodec chunk was stored: spatial prediction alone, or the network's prediction with its
residual coded value by value (network) or spatially (network+spatial), or raw.

The pointwise relative bound ``abs(x - y) <= e abs(x)`` runs on the datasets whose test values
are all positive, at e = 1e-2, 1e-3 and 1e-4, against SZ3 at the absolute bound that implies it
on each chunk (e times the chunk's smallest magnitude); both are checked pointwise.

Speeds are MB/s of the data's own bytes (encode, decode; inrcodec's compiled kernels loaded from
the start), one thread for every codec, in this run; compare them as ratios.

    pip install -e ".[bench]"
    python pipelines/evaluate_bounded.py [--datasets a1b ostia] [--markdown docs/bounded.md]
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from pipelines_common import machine, publish, stamp

from inrcodec import INRCodec
from inrcodec.bench.datasets import DATASETS, NEVER_SEEN_2D, NEVER_SEEN_3D
from inrcodec.bench.peers import BOUND_DIGITS, Context, sperr, sz3
from inrcodec.coding import kernels
from inrcodec.coding.container import Container, Kind
from inrcodec.measure import RoundTrip, codec_round_trip, round_trip

FRACTIONS = (1e-1, 1e-2, 1e-3, 1e-4)
NEVER_SEEN = (NEVER_SEEN_2D, NEVER_SEEN_3D)
POINTWISE = (1e-2, 1e-3, 1e-4)
KIND_NAMES = {Kind.SPATIAL: "spatial", Kind.BOUNDED: "network", Kind.BOUNDED_SPATIAL: "network+spatial",
              Kind.RAW: "raw", Kind.CONSTANT: "constant", Kind.EMPTY: "empty"}


def bound_for(value_range: float, fraction: float, dtype: np.dtype) -> float:
    bound = float(f"{value_range * fraction:.{BOUND_DIGITS}g}")
    return max(1.0, float(np.floor(bound))) if dtype.kind in "iu" else bound


def misses(trip: RoundTrip, limit) -> int:
    """Finite values outside ``limit`` (a number, or an array like the original's values)."""
    x, y = trip.original.astype(np.float64), trip.reconstruction.astype(np.float64)
    finite = np.isfinite(x)
    limit = np.broadcast_to(limit, x.shape)[finite]
    with np.errstate(invalid="ignore"):
        return int((~(np.abs(y[finite] - x[finite]) <= limit)).sum())


def speed(trip: RoundTrip) -> tuple[float, float]:
    megabytes = sum(c.nbytes for c in trip.chunks) / 1e6
    return megabytes / trip.encode_seconds, megabytes / trip.decode_seconds


def kinds(codec: INRCodec, trip: RoundTrip) -> str:
    counts = Counter(KIND_NAMES.get(Container.from_bytes(e, codec.model.hash).kind, "?")
                     for e in trip.encoded)
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def peer(make, ctx: Context, chunks) -> RoundTrip | None:
    try:
        (contender,) = make(ctx)
    except ImportError:
        return None
    return round_trip(chunks, contender.encode, contender.decode)


def sz3_pointwise(chunks: list[np.ndarray], eps: float, dtype: np.dtype) -> RoundTrip:
    """SZ3 at the absolute bound that implies the pointwise one, chunk by chunk. An SZ3 stream
    carries its own bound, so one contender decodes every chunk's."""
    def sz3_at(bound: float):
        (contender,) = sz3(Context(dtype, False, 0.0, (bound,), False))
        return contender

    def encode(chunk):
        finite = chunk[np.isfinite(chunk)].astype(np.float64)
        return sz3_at(eps * float(np.abs(finite).min())).encode(chunk)

    return round_trip(chunks, encode, sz3_at(eps).decode)


def evaluate(name: str) -> dict:
    ds = DATASETS[name]
    array = ds.load()
    chunks = ds.test_chunks(array)
    values = np.concatenate([c.ravel() for c in chunks]).astype(np.float64)
    finite = values[np.isfinite(values)]
    value_range, dtype = float(np.ptp(finite)), chunks[0].dtype
    has_nans = not np.isfinite(values).all()
    rows = []
    for fraction in FRACTIONS:
        bound = bound_for(value_range, fraction, dtype)
        if rows and rows[-1]["bound"] == bound:  # integer bounds stop at 1
            continue
        ctx = Context(dtype, has_nans, value_range, (bound,), False)
        codec = INRCodec(ds.model, max_error=bound)
        trips = {"inrcodec": codec_round_trip(codec, chunks), "SZ3": peer(sz3, ctx, chunks),
                 "SPERR": peer(sperr, ctx, chunks)}
        rows.append({"fraction": fraction, "bound": bound, "kinds": kinds(codec, trips["inrcodec"]),
                     **{f"{k} b/v": t.bits_per_value for k, t in trips.items() if t},
                     **{f"{k} misses": misses(t, bound) for k, t in trips.items() if t},
                     **{f"{k} MB/s": speed(t) for k, t in trips.items() if t}})
        print(name, rows[-1], flush=True)
    pointwise = []
    if finite.min() > 0:
        for eps in POINTWISE:
            codec = INRCodec(ds.model, pointwise_relative_error=eps)
            trips = {"inrcodec": codec_round_trip(codec, chunks),
                     "SZ3": sz3_pointwise(chunks, eps, dtype)}
            limit = eps * np.abs(values)
            pointwise.append({"eps": eps, **{f"{k} b/v": t.bits_per_value for k, t in trips.items()},
                              **{f"{k} misses": misses(t, limit) for k, t in trips.items()},
                              **{f"{k} MB/s": speed(t) for k, t in trips.items()}})
            print(name, pointwise[-1], flush=True)
    return {"name": name, "description": ds.description, "model": ds.model, "model_saw": ds.model_saw,
            "values": int(values.size), "range": value_range, "bounds": rows, "pointwise": pointwise}


def rate(megabytes_per_second: float) -> str:
    """Two significant digits, without an exponent."""
    return f"{megabytes_per_second:.2g}" if megabytes_per_second < 10 else f"{megabytes_per_second:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def markdown(results: list[dict], header: str) -> list[str]:
    lines = [header, "", "## Absolute bounds", "",
             "| dataset | model saw it? | bound (of range) | bound | inrcodec b/v | SZ3 b/v | SPERR b/v "
             "| inrcodec / SZ3 | inrcodec / better peer | misses (inrcodec, SZ3, SPERR) "
             "| inrcodec chunks | enc / dec MB/s inrcodec | SZ3 | SPERR |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pairs, under_sz3, under_best, checked, missed = 0, 0, 0, 0, 0
    for r in results:
        for row in r["bounds"]:
            inr, s, p = row["inrcodec b/v"], row.get("SZ3 b/v"), row.get("SPERR b/v")
            best = min(x for x in (s, p) if x is not None) if (s or p) else None
            pairs += 1
            under_sz3 += s is not None and inr <= s
            under_best += best is not None and inr <= best
            checked += r["values"]
            missed += row["inrcodec misses"]
            mbs = [row.get(f"{k} MB/s") for k in ("inrcodec", "SZ3", "SPERR")]
            lines.append(
                f"| {r['name']} | {'no' if r['model_saw'] in NEVER_SEEN else 'another split'} "
                f"| {row['fraction']:g} | {row['bound']:g} | {inr:.3f} "
                f"| {s if s is None else f'{s:.3f}'} | {p if p is None else f'{p:.3f}'} "
                f"| {ratio(inr, s)} | {ratio(inr, best)} "
                f"| {row['inrcodec misses']}, {row.get('SZ3 misses', '-')}, {row.get('SPERR misses', '-')} "
                f"| {row['kinds']} | "
                + " | ".join("-" if m is None else f"{rate(m[0])} / {rate(m[1])}" for m in mbs) + " |")
    lines += ["", f"inrcodec at or under SZ3 on {under_sz3} of {pairs} (dataset, bound) pairs, at or "
              f"under the better of SZ3 and SPERR on {under_best} of {pairs}; {missed} of {checked} "
              "checked values outside their bound.", ""]
    lines += ["## Pointwise relative bounds (positive fields)", "",
              "| dataset | e | inrcodec b/v | SZ3 b/v (at e x the chunk's smallest value) "
              "| inrcodec / SZ3 | misses (inrcodec, SZ3) | enc / dec MB/s inrcodec | SZ3 |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for row in r["pointwise"]:
            mi, ms = row["inrcodec MB/s"], row["SZ3 MB/s"]
            lines.append(f"| {r['name']} | {row['eps']:g} | {row['inrcodec b/v']:.3f} "
                         f"| {row['SZ3 b/v']:.3f} | {ratio(row['inrcodec b/v'], row['SZ3 b/v'])} "
                         f"| {row['inrcodec misses']}, {row['SZ3 misses']} "
                         f"| {rate(mi[0])} / {rate(mi[1])} | {rate(ms[0])} / {rate(ms[1])} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--markdown")
    p.add_argument("--from-json", action="store_true", help="rewrite the markdown from its .json")
    args = p.parse_args()
    # The compiled kernels from the start, as in a compressing worker (speed.py): a process
    # loads them once its coders have passed 8 million points, and the first datasets' speeds
    # would be the numpy path's.
    kernels.compiled()
    torch.set_num_threads(1)
    store = Path(args.markdown).with_suffix(".json") if args.markdown else None
    if args.from_json:
        saved = json.loads(store.read_text())
        publish(markdown(saved["results"], saved["header"]), args.markdown, saved.get("stamp", False))
        return
    start = time.perf_counter()
    results = []
    for name in args.datasets:
        try:
            results.append(evaluate(name))
        except ImportError as e:  # a dataset whose package is not installed
            print(f"{name}: skipped ({e})", flush=True)
    header = (f"# Error bounds against SZ3 and SPERR\n\nProduced by `python pipelines/evaluate_bounded.py`"
              f" ({time.strftime('%Y-%m-%d')}, {(time.perf_counter() - start) / 60:.1f} minutes) on "
              f"{machine()}, one thread per codec.\n\n" + __doc__.split("\n\n    pip")[0])
    made = stamp()
    if store:
        store.write_text(json.dumps({"header": header, "results": results, "stamp": made}, indent=1))
    publish(markdown(results, header), args.markdown, made)


if __name__ == "__main__":
    main()
