"""The universal models adapted to a tenth of each dataset that has an axis to split, then
measured on the rest against SZ3 and SPERR, on the same chunks, in one run; and what more
minutes of adaptation buy.

    python pipelines/evaluate_adaptation.py --minutes 5 --markdown docs/adaptation.md
    python pipelines/evaluate_adaptation.py --curve glosea4 --curve-minutes 0 1 3 10 \
        --markdown docs/adaptation-curve.md

Each dataset is cut along one axis (``SPLITS``): adaptation (``inrcodec.adapt``, the step
``compress --adapt`` takes, with the benchmark's chunks) reads a tenth of it; the test chunks
come from the rest, and only from data that neither the universal model's own training nor the
adaptation saw (where the universal model trained on a dataset's train split, both the tenth
and the test chunks come from the benchmark's test split).
inrcodec is the default codec: plain latents, the PSNR floor at 30, 40 and 50 dB and the error
bounds every bounded codec gets, one front per model; model files are not counted.
"""

import argparse
import dataclasses
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from evaluate_universal import SWEEP, TARGETS, UNIVERSAL, inrcodec_contenders, rate
from pipelines_common import machine, publish_results, table

# dataset: (axis, adaptation part, test part): a tenth of the dataset to adapt on, and test data
# neither the universal model nor the adaptation saw. Where the universal model trained on a
# dataset's train split, both parts come from its benchmark test split.
SPLITS = {
    "a1b": (0, slice(192, 216), slice(216, None)),  # 0-191 trained the universal model
    "ostia": (0, slice(43, 48), slice(48, None)),  # 0-42 trained the universal model
    "glosea4": (0, slice(60, 68), slice(68, None)),  # 0-59 trained it
    "eofs_sst": (0, slice(40, 45), slice(45, None)),  # 0-39 trained it
    "uwnd": (0, slice(0, 1), slice(1, None)),  # one month of twelve
    "nemo": (2, slice(0, 36), slice(36, None)),  # 36 of 360 longitudes
    "turbulence": (1, slice(0, 6), slice(6, None)),  # 6 of 64 planes of each component
    "mni": (0, slice(98, 118), slice(118, None)),  # the half the universal model never saw
}


def part(array: np.ndarray, axis: int, where: slice) -> np.ndarray:
    return array[(slice(None),) * axis + (where,)]


def evaluate(name: str, minutes_list: list[float], universal: str | None, seconds: float) -> dict:
    """One dataset: adapt for each of ``minutes_list`` (0: the universal model as it is), then
    measure every model and the peers on the test chunks (one process, one torch thread)."""
    import torch
    import xarray as xr

    from inrcodec.adapt import adapt
    from inrcodec.bench.datasets import DATASETS
    from inrcodec.bench.peers import Context, absolute_bounds, sperr, sz3
    from inrcodec.bench.run import measure
    from inrcodec.model import resolve

    torch.set_num_threads(1)
    ds = DATASETS[name]
    axis, learn, test = SPLITS[name]
    array = ds.load()
    start = resolve(universal or UNIVERSAL[resolve(ds.model).ndim])
    chunks = dataclasses.replace(ds, test=None).test_chunks(part(array, axis, test))
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    value_range = float(np.ptp(finite))
    ctx = Context(array.dtype, any(not np.isfinite(c).all() for c in chunks), value_range,
                  absolute_bounds(value_range, array.dtype, False), False)
    source = part(array, axis, learn)
    source = xr.Dataset({name: ([f"axis{i}" for i in range(source.ndim)], source)})
    models, adaptations = {}, {}
    for minutes in minutes_list:
        label = "universal" if minutes == 0 else f"adapted {minutes:g} min"
        if minutes == 0:
            models[label] = start
            continue
        adaptation = adapt(source, name, minutes, init=start, chunks=ds.chunks, progress=False)
        models[label] = adaptation.model
        adaptations[label] = {"seconds": round(adaptation.seconds, 1),
                              "outer_steps": adaptation.outer_steps, "kept": adaptation.kept,
                              "patches": adaptation.patches, "describe": adaptation.describe()}
        print(f"{name}: {adaptation.describe()}", flush=True)
    rows, warm = [], set()
    for contender in inrcodec_contenders(models, ctx) + sz3(ctx) + sperr(ctx):
        try:
            row = measure(contender, chunks, warm, seconds)
        except TimeoutError:
            continue
        rows.append(row)
        print(f"{name:11} {contender.family:24} {contender.setting:22} "
              f"{row['bits_per_value']:8.3f} bits/value {row['psnr_db']:7.2f} dB", flush=True)
    n = array.shape[axis]
    return {"name": name, "split": {"axis": axis, "adapt": _span(learn, n), "test": _span(test, n)},
            "adapt_values": int(source[name].size), "test_chunks": len(chunks),
            "test_values": int(sum(c.size for c in chunks)), "adaptations": adaptations,
            "models": list(models), "rows": rows}


def _span(where: slice, n: int) -> str:
    start, stop, _ = where.indices(n)
    return f"{start}-{stop - 1}"


def worst_ratio(rows: list[dict], family: str):
    """(our bits / the better peer's, at which PSNR) at its worst over 30-50 dB, or None."""
    from inrcodec.bench.fronts import of, rate_at

    ratios = []
    for t in SWEEP:
        ours = rate_at(of(rows, family), t)
        peers = [h for h in (rate_at(of(rows, p), t) for p in ("SZ3", "SPERR")) if h]
        if ours and peers:
            ratios.append((ours[0] / min(p[0] for p in peers), t))
    return max(ratios) if ratios else None


def table_report(results: list[dict], header: str) -> list[str]:
    from inrcodec.bench.fronts import of, rate_at

    lines = [header]
    for target in TARGETS:
        lines += ["", f"## {target:.0f} dB", ""]
        cells = []
        for r in results:
            adapted = next(m for m in r["models"] if m != "universal")
            cells.append([r["name"]] + [rate(rate_at(of(r["rows"], f), target)) for f in (
                "inrcodec universal", f"inrcodec {adapted}", "SZ3", "SPERR")])
        lines += table(["dataset", "universal", "adapted", "SZ3", "SPERR"], cells)
    lines += ["", "## Against the better of SZ3 and SPERR, 30 to 50 dB", ""]
    cells = []
    for r in results:
        adapted = next(m for m in r["models"] if m != "universal")
        a = r["adaptations"][adapted]
        worst = {f: worst_ratio(r["rows"], f) for f in ("inrcodec universal", f"inrcodec {adapted}")}
        cells.append([r["name"], f"{r['split']['adapt']} of axis {r['split']['axis']}",
                      f"{r['split']['test']}, {r['test_chunks']} chunks",
                      f"{a['seconds']:.0f} s, {a['outer_steps']} steps, {a['patches']} patches"
                      + ("" if a["kept"] else " (worse: universal kept)")]
                     + ["-" if w is None else f"{w[0]:.2f} (at {w[1]:.0f} dB)"
                        for w in worst.values()])
    lines += table(["dataset", "adapted on", "tested on", "adaptation",
                    "universal / better peer, worst", "adapted / better peer, worst"], cells)
    return lines


def curve_report(result: dict, header: str, plot: Path | None) -> list[str]:
    from inrcodec.bench.fronts import of, rate_at

    lines = [header, ""]
    cells, points = [], []
    for label in result["models"]:
        rows = of(result["rows"], f"inrcodec {label}")
        plain = [r for r in rows if "latent_bits" in r["params"]]
        minutes = 0.0 if label == "universal" else float(label.split()[1])
        a = result["adaptations"].get(label)
        at40 = rate_at(rows, 40.0)
        best = max(plain, key=lambda r: r["psnr_db"])
        cells.append([f"{minutes:g}", "-" if a is None else f"{a['seconds']:.0f} s, "
                      f"{a['outer_steps']} steps", f"{best['psnr_db']:.2f} dB at "
                      f"{best['bits_per_value']:.3f}", rate(rate_at(rows, 30.0)), rate(at40),
                      rate(rate_at(rows, 50.0))])
        points.append((minutes, best["psnr_db"], at40[0] if at40 else None))
    peers = {p: rate_at(of(result["rows"], p), 40.0) for p in ("SZ3", "SPERR")}
    lines += table(["minutes", "adaptation", "network alone (best plain-latent point)", "bits at 30 dB",
                    "bits at 40 dB", "bits at 50 dB"], cells)
    lines += ["", "At 40 dB on the same chunks: " + ", ".join(
        f"{p} {rate(h)} bits/value" for p, h in peers.items()) + "."]
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        left.plot([p[0] for p in points], [p[1] for p in points], "o-")
        left.set(xlabel="adaptation minutes (2-core CPU)", ylabel="network alone, dB",
                 title="plain latents, 7 bits")
        kept = [p for p in points if p[2] is not None]
        right.plot([p[0] for p in kept], [p[2] for p in kept], "o-", label="inrcodec")
        for p, h in peers.items():
            if h:
                right.axhline(h[0], ls="--", color="grey" if p == "SZ3" else "k", label=p)
        right.set(xlabel="adaptation minutes (2-core CPU)", ylabel="bits/value at 40 dB",
                  title=result["name"])
        right.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        lines += ["", f"![quality against adaptation minutes]({plot.name})"]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(SPLITS))
    p.add_argument("--minutes", type=float, default=15.0, help="adaptation budget per dataset")
    p.add_argument("--curve", help="one dataset, adapted for each of --curve-minutes")
    p.add_argument("--curve-minutes", type=float, nargs="+", default=[0, 1, 3, 10])
    p.add_argument("--universal-2d")
    p.add_argument("--universal-3d")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--markdown")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="write the table of earlier runs' JSON files instead")
    args = p.parse_args()
    if not args.minutes > 0 or any(m < 0 for m in args.curve_minutes):
        p.error("adaptation minutes must be positive (0 in --curve-minutes: the universal model)")
    import torch

    from inrcodec.bench.datasets import DATASETS
    from inrcodec.model import resolve

    torch.set_num_threads(1)
    universal = lambda n: {2: args.universal_2d, 3: args.universal_3d}[  # noqa: E731
        resolve(DATASETS[n].model).ndim]
    where = (f"Generated by `python pipelines/evaluate_adaptation.py` on {machine()}, one torch "
             f"thread per dataset, {args.jobs} at a time. Bits per value (every stored byte, "
             "model files excluded) off each codec's front; '-': no setting reaches it, "
             "'&le;': the smallest setting is already past it.")
    if args.curve:
        result = evaluate(args.curve, args.curve_minutes, universal(args.curve), args.seconds)
        axis, learn, test = SPLITS[args.curve]
        header = (f"# What more adaptation buys: {args.curve}\n\n{where} Adapted on "
                  f"{result['split']['adapt']} of axis {axis}, tested on {result['split']['test']} "
                  f"of it ({result['test_chunks']} chunks).")
        plot = Path(args.markdown).with_suffix(".png") if args.markdown else None
        lines, results = curve_report(result, header, plot), [result]
    else:
        if args.merge:
            results = [r for path in args.merge for r in json.loads(Path(path).read_text())]
            results.sort(key=lambda r: list(SPLITS).index(r["name"]))
        else:
            with ProcessPoolExecutor(args.jobs) as pool:
                futures = {n: pool.submit(evaluate, n, [0, args.minutes], universal(n), args.seconds)
                           for n in args.datasets}
                results = []
                for n, future in futures.items():  # one dataset failing loses only itself
                    try:
                        results.append(future.result())
                    except Exception as e:
                        print(f"{n} failed: {type(e).__name__}: {e}", flush=True)
        header = (f"# The universal models adapted for {args.minutes:g} minutes\n\n{where} The "
                  f"goal (issue #18): at most half the bits of the better classic codec at every "
                  f"PSNR from 30 to 50 dB.")
        lines = table_report(results, header)
    publish_results(lines, results, args.markdown)


if __name__ == "__main__":
    main()
