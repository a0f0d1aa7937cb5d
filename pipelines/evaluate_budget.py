"""Size-budget mode on the held-out A1B fields: achieved size against the budget, and quality
against plain latent quantization at the same size.

Every test field (192-239, never seen in training) is its own 37 x 49 chunk (and, in a second
sweep, 12 fields share a chunk). Bits per value count every stored byte of the whole array.

A linear model is also measured without its gated candidates (``budget.LINEAR_GATES =
False``). Plain latents: ``min_psnr=None``, no floor.

    python pipelines/evaluate_budget.py [--models linear-2d default-2d] [--markdown docs/budget.md]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from pipelines_common import machine, publish

from inrcodec import INRCodec
from inrcodec.bench.datasets import DATASETS
from inrcodec.bench.machine import load_average, load_text
from inrcodec.bench.metrics import count_flops
from inrcodec.measure import chunks_along_first_axis, codec_round_trip
from inrcodec.model import resolve
from inrcodec.modes import budget as budget_mode
from inrcodec.sample_data import A1B_TEST, load_a1b


def point(test: np.ndarray, codec: INRCodec, fields_per_chunk: int) -> dict:
    flops, _ = count_flops(lambda: codec.encode(test[:fields_per_chunk]))
    trip = codec_round_trip(codec, chunks_along_first_axis(test, fields_per_chunk))
    return {"bits_per_value": trip.bits_per_value, "psnr_db": trip.psnr(),
            "max_abs_error": trip.distortion()["max_abs_error"], "encode_s": trip.encode_seconds,
            "encode_flops_per_value": flops / test[:fields_per_chunk].size}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", nargs="+", default=["linear-2d", "default-2d"])
    p.add_argument("--budgets", type=float, nargs="+",
                   default=[0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4])
    p.add_argument("--latent-bits", type=float, nargs="+", default=[4, 5, 6, 6.5, 7, 8])
    p.add_argument("--fields-per-chunk", type=int, nargs="+", default=[1, 12])
    p.add_argument("--datasets", nargs="*", default=["glosea4", "ostia", "hybrid_height"],
                   help="benchmark datasets whose test chunks measure the linear model's gates")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--markdown")
    p.add_argument("--plot", help="also draw the rate-distortion curves into this PNG")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    test = load_a1b()[A1B_TEST]
    loads = [load_average()]

    lines = [f"Size-budget mode (`bits_per_value=B`) on A1B fields 192-239 (48 fields of 37 x 49 "
             f"float32, range {np.ptp(test):.1f} K, never seen in training) against plain latent "
             f"quantization (`latent_bits=b`); {machine()}. Bits per value count every stored "
             "byte of the whole array; 'of budget' is achieved / B. FLOPs (matrix products, "
             "torch's FlopCounterMode) are counted on the first chunk.", "",
             "| model | fields/chunk | setting | bits/value | of budget | PSNR dB | max error K "
             "| encode s | encode FLOPs/value |", "|---|---|---|---|---|---|---|---|---|"]
    curves, solved = {}, []  # (the encoder's point, without gated candidates) of linear models
    for model in args.models:
        name = Path(model).stem if model.endswith(".safetensors") else model
        for per_chunk in args.fields_per_chunk:
            rows = [(f"B = {b}", b, point(test, INRCodec(model, bits_per_value=b), per_chunk))
                    for b in args.budgets]
            if resolve(model).linear:  # without the gated candidates, which rounding may match
                budget_mode.LINEAR_GATES = False
                without = [(f"B = {b}, no gates", b,
                            point(test, INRCodec(model, bits_per_value=b), per_chunk))
                           for b in args.budgets]
                budget_mode.LINEAR_GATES = True
                solved += [(r, w[2], b) for (_, b, r), w in zip(rows, without)]
                rows += without
            rows += [(f"b = {b}", None,
                      point(test, INRCodec(model, latent_bits=b, min_psnr=None), per_chunk))
                     for b in args.latent_bits]
            for mode in ("budget", "plain"):
                curves[f"{name}, {per_chunk} field(s)/chunk, {mode}"] = sorted(
                    (r["bits_per_value"], r["psnr_db"]) for setting, b, r in rows
                    if (b is not None) == (mode == "budget") and "no gates" not in setting)
            for setting, budget, r in rows:
                share = f"{r['bits_per_value'] / budget:.1%}" if budget else "-"
                lines.append(f"| {name} | {per_chunk} | {setting} | {r['bits_per_value']:.4f} | "
                             f"{share} | {r['psnr_db']:.2f} | {r['max_abs_error']:.2f} | "
                             f"{r['encode_s']:.1f} | {r['encode_flops_per_value']:,.0f} |")
                print(lines[-1], flush=True)
    if args.datasets:
        lines += ["", "Data the linear model does not know: each benchmark dataset's test chunks "
                  "(`inrcodec bench`'s), `linear-2d` with and without its gated candidates.", "",
                  "| dataset | setting | bits/value | of budget | PSNR dB | no gates: "
                  "bits/value | PSNR dB | encode s | no gates: encode s |",
                  "|---|---|---|---|---|---|---|---|---|"]
    for dataset in args.datasets:
        data = DATASETS[dataset]
        chunks = data.test_chunks(np.asarray(data.load()))
        for b in args.budgets:
            both = []
            for gates in (True, False):
                budget_mode.LINEAR_GATES = gates
                trip = codec_round_trip(INRCodec(data.model, bits_per_value=b), chunks)
                both.append({"bits_per_value": trip.bits_per_value, "psnr_db": trip.psnr(),
                             "encode_s": trip.encode_seconds})
            budget_mode.LINEAR_GATES = True
            solved.append((*both, b))
            (a, w) = both
            lines.append(f"| {dataset} | B = {b} | {a['bits_per_value']:.4f} | "
                         f"{a['bits_per_value'] / b:.1%} | {a['psnr_db']:.2f} | "
                         f"{w['bits_per_value']:.4f} | {w['psnr_db']:.2f} | {a['encode_s']:.1f} | "
                         f"{w['encode_s']:.1f} |")
            print(lines[-1], flush=True)
    lines[0] += load_text(loads + [load_average()])
    if solved:  # the encoder's choice beside rounding alone, setting by setting
        same = sum(a["bits_per_value"] == b["bits_per_value"] and a["psnr_db"] == b["psnr_db"]
                   for a, b, _ in solved)
        ratios = [a["encode_s"] / b["encode_s"] for a, b, _ in solved if b["encode_s"] > 0]
        better = [a["psnr_db"] - b["psnr_db"] for a, b, _ in solved if a["psnr_db"] > b["psnr_db"]]
        fits = sum(a["bits_per_value"] <= budget < b["bits_per_value"] for a, b, budget in solved)
        lines[0] += (f" A linear model without its gated candidates ('no gates', "
                     f"budget.LINEAR_GATES = False): the same bits and PSNR as with them "
                     f"at {same} of {len(solved)} settings, the gates {len(better)} of them higher"
                     + (f" (by {min(better):.2f}-{max(better):.2f} dB)" if better else "")
                     + f", and {fits} where only with them the chunks fit their budget (a chunk "
                     "over it is stored with a BudgetWarning); with them, "
                     f"{min(ratios):.1f}-{max(ratios):.1f}x the encode time.")
    publish(lines, args.markdown)
    if args.plot:
        plot(curves, args.plot)


def plot(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in curves.items():
        x, y = zip(*points)
        ax.plot(x, y, "o-" if label.endswith("budget") else "s--", label=label, markersize=4)
    ax.set(xlabel="bits per value (every stored byte)", ylabel="PSNR dB (held-out A1B)",
           title="Size-budget mode vs plain latent quantization")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
