"""The universal models, without adaptation, on every benchmark dataset: bits per value at 30, 40
and 50 dB beside SZ3 and SPERR and the per-archive bundled models, on the same test chunks, in
one run.

    python pipelines/evaluate_universal.py --markdown docs/universal.md

Each inrcodec curve is the front of one model's settings in the default codec: plain latents
(the network alone), the PSNR floor at 30, 40 and 50 dB (over each chunk's range), RMS floors
(`max_rmse`) every 5 dB from 25 to 55 over the test range, and the error bounds every bounded
codec gets (bench/peers.py). Rates are read off each front as in docs/benchmarks.md
(bench/fronts.py); model files are not counted (a bundled model is named by its hash).
"""

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from pipelines_common import machine, publish_results, table

TARGETS = (30.0, 40.0, 50.0)
SWEEP = np.arange(30.0, 50.01, 1.0)  # where "never more bits than the better peer" is checked
PLAIN_BITS = (3, 5, 7)
UNIVERSAL = {2: "universal-2d", 3: "universal-3d"}
# What the universal models saw of each benchmark dataset (pipelines/train_universal.py).
SAW = {"a1b": "train split (0-191); test 192-239 unseen",
       "ostia": "train split (0-42); test 43-53 unseen",
       "glosea4": "train split (0-59); test 60-77 unseen",
       "eofs_sst": "train split (0-39); test 40-49 unseen",
       "uwnd": "never (trained on vwnd, its meridional sibling)",
       "mni": "x < 98 of this brain; test x 128-191 unseen",
       "turbulence": "never (another fluidsim run, other initial noise)"}


# The RMS floors, as dB over the test range: every 5 dB from 25 to 55, so the front has a point
# of its own near every PSNR it is read at (SZ3 and SPERR get 8 bounds each).
RMS_TARGETS = (25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0)


def inrcodec_contenders(models: dict, ctx) -> list:
    """Every setting of the default codec with each of ``models`` (label: model): plain latents,
    the PSNR floors (over each chunk's range) and RMS floors (`RMS_TARGETS`), and
    the error bounds of ``ctx``; one family per model."""
    from inrcodec.bench.peers import Contender
    from inrcodec.codecs.numcodecs import INRCodec

    settings = ([{"latent_bits": b, "min_psnr": None} for b in PLAIN_BITS]
                + [{"min_psnr": p} for p in TARGETS]
                + [{"max_rmse": float(f"{ctx.value_range * 10 ** (-p / 20):.3g}")}
                   for p in RMS_TARGETS]
                + [{"max_error": b} for b in ctx.bounds])
    out = []
    for label, model in models.items():
        for keywords in settings:
            codec = INRCodec(model, **keywords)
            out.append(Contender(f"inrcodec {label}", ", ".join(
                f"{k}={v:g}" for k, v in keywords.items() if v is not None), codec.encode,
                lambda data, shape, dtype, codec=codec: codec.decode(data),
                bound=codec.mode.absolute_bound, params=dict(keywords)))
    return out


def evaluate(name: str, universal: str | None, seconds: float) -> dict:
    """Every row of one dataset (one process, one torch thread)."""
    import torch

    from inrcodec.bench.datasets import DATASETS
    from inrcodec.bench.peers import Context, absolute_bounds, sperr, sz3
    from inrcodec.bench.run import measure
    from inrcodec.model import resolve

    torch.set_num_threads(1)
    ds = DATASETS[name]
    array = ds.load()
    chunks = ds.test_chunks(array)
    finite = np.concatenate([c[np.isfinite(c)].ravel() for c in chunks]).astype(np.float64)
    value_range = float(np.ptp(finite))
    ctx = Context(array.dtype, any(not np.isfinite(c).all() for c in chunks), value_range,
                  absolute_bounds(value_range, array.dtype, False), False)
    dims = resolve(ds.model).ndim
    models = {"universal": universal or UNIVERSAL[dims], "bundled": ds.model}
    contenders = inrcodec_contenders(models, ctx) + sz3(ctx) + sperr(ctx)
    rows, warm = [], set()
    for contender in contenders:
        try:
            row = measure(contender, chunks, warm, seconds)
        except TimeoutError:
            continue
        rows.append(row)
        print(f"{name:13} {contender.family:18} {contender.setting:22} "
              f"{row['bits_per_value']:8.3f} bits/value {row['psnr_db']:7.2f} dB", flush=True)
    return {"name": name, "chunks": list(ds.chunks), "test_chunks": len(chunks),
            "values": int(sum(c.size for c in chunks)), "model_saw": SAW.get(name, "never"),
            "models": {label: resolve(m).hash[:12] for label, m in models.items()}, "rows": rows}


def summarise(result: dict) -> dict:
    from inrcodec.bench.fronts import of, rate_at

    rows = result["rows"]
    curves = {f: of(rows, f) for f in ("inrcodec universal", "inrcodec bundled", "SZ3", "SPERR")}
    best = {f: max((r["psnr_db"] for r in curves[f] if "latent_bits" in r["params"]), default=None)
            for f in ("inrcodec universal", "inrcodec bundled")}
    at = {f: {t: rate_at(c, t) for t in SWEEP} for f, c in curves.items()}
    ratios = []
    for t in SWEEP:
        ours, peers = at["inrcodec universal"][t], [at[p][t] for p in ("SZ3", "SPERR") if at[p][t]]
        if ours and peers:
            ratios.append((ours[0] / min(p[0] for p in peers), t))
    return {"at": at, "network_best_db": best, "worst": max(ratios) if ratios else None}


def rate(hit) -> str:
    return "-" if hit is None else f"{'&le; ' if hit[1] else ''}{hit[0]:.3g}"


def report(results: list[dict], header: str) -> list[str]:
    summaries = [summarise(r) for r in results]
    lines = [header, "", "## What each dataset is to the universal model", ""]
    lines += table(["dataset", "test chunks", "the universal model saw",
                    "network alone, best dB: universal", "bundled",
                    "universal / better of SZ3 and SPERR, worst over 30-50 dB"],
                   [[r["name"], f"{r['test_chunks']} of {tuple(r['chunks'])}", r["model_saw"],
                     *("-" if b is None else f"{b:.1f}" for b in s["network_best_db"].values()),
                     "-" if s["worst"] is None else f"{s['worst'][0]:.2f} (at {s['worst'][1]:.0f} dB)"]
                    for r, s in zip(results, summaries)])
    families = ("inrcodec universal", "inrcodec bundled", "SZ3", "SPERR")
    for t in TARGETS:
        lines += ["", f"## Bits per value at {t:.0f} dB", ""]
        lines += table(["dataset", "universal", "bundled", "SZ3", "SPERR"],
                       [[r["name"]] + [rate(s["at"][f][t]) for f in families]
                        for r, s in zip(results, summaries)])
    beaten = [r["name"] for r, s in zip(results, summaries) if s["worst"] and s["worst"][0] > 1]
    never = [r["name"] for r in results if r["model_saw"].startswith("never")]
    lines += ["", f"The universal model needs more bits than the better of SZ3 and SPERR somewhere "
                  f"between 30 and 50 dB on {len(beaten)} of {len(results)} datasets"
                  + (f" ({', '.join(beaten)})" if beaten else "")
                  + f"; of those, it never saw {', '.join(n for n in beaten if n in never) or 'none'}."]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+")
    p.add_argument("--universal-2d", help="model file (default: the bundled universal-2d)")
    p.add_argument("--universal-3d", help="model file (default: the bundled universal-3d)")
    p.add_argument("--jobs", type=int, default=2, help="datasets measured at once")
    p.add_argument("--seconds", type=float, default=300.0,
                   help="a setting whose encoding takes longer is skipped")
    p.add_argument("--markdown")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="write the report of earlier runs' JSON files instead (runs on part of "
                        "the datasets each, side by side)")
    args = p.parse_args()
    import torch

    from inrcodec.bench.datasets import DATASETS

    torch.set_num_threads(1)  # as each worker runs, so the machine line says so
    from inrcodec.model import resolve

    names = args.datasets or list(DATASETS)
    chosen = {2: args.universal_2d, 3: args.universal_3d}
    if args.merge:
        results = [r for path in args.merge for r in json.loads(Path(path).read_text())]
        results.sort(key=lambda r: list(DATASETS).index(r["name"]))
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(evaluate, n, chosen[resolve(DATASETS[n].model).ndim],
                                   args.seconds) for n in names]
            results = [f.result() for f in futures]
    header = (f"# The universal models without adaptation\n\n"
              f"Generated by `python pipelines/evaluate_universal.py` on {machine()}, "
              f"{args.jobs} datasets at a time, one torch thread each. Bits per value (every "
              f"stored byte, model files excluded) read off each codec's front at 30, 40 and 50 dB "
              f"PSNR; '-': no setting reaches it, '&le;': the smallest setting is already past "
              f"it. 'universal' is `universal-2d` or `universal-3d`, 'bundled' the per-archive "
              f"model the benchmark uses (`default-2d`, `default-3d`).")
    lines = report(results, header)
    publish_results(lines, results, args.markdown)


if __name__ == "__main__":
    main()
