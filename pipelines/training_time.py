"""What more training buys: the bundled recipe meta-learned for several step counts, each run
with its own full learning-rate schedule, scored on the held-out A1B fields 192-239.

A run's own validation curve (the model card's) mixes two things: more steps, and the cosine
schedule decaying towards its end. Separate runs of 1/16, 1/8, 1/4 and 1/2 of the bundled run's
steps, each with the whole schedule, show what the step count alone buys. Each trains on fields
0-191 with the bundled recipe (``inrcodec.recipe.Recipe``'s defaults: lr 1e-3, affine mixes of
spread 3, a latent basis, seed 0) for a fixed number of outer steps and no time budget, so a
busy machine slows a run down but does not change its model; ``--jobs`` run at once, one torch
thread each. The bundled model itself (10,369 steps by a 59-minute time budget on two threads)
is the last point.

Scores: unquantized latents (3 inner steps, the network's ceiling), and through the codec with
every byte counted, interpolated to 0.15 bits per value, with one field per chunk and with
twelve (the header shared). PSNR is over the test fields' range in K.

    python pipelines/training_time.py [--steps 650 1300 2600 5200] [--jobs 2] \\
        [--out docs/training-time] [--keep DIR]
"""

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from pipelines_common import machine, psnr_at_rate, publish, unquantized_psnr

from inrcodec.model import resolve
from inrcodec.recipe import BUNDLED
from inrcodec.sample_data import A1B_TEST, A1B_TRAIN, load_a1b
from inrcodec.train import meta_train

# Latent bits wide enough to bracket 0.15 bits per value for short runs too.
ONE_PER_CHUNK = (4, 5, 5.5, 6, 6.5, 7, 8, 10, 12)
TWELVE_PER_CHUNK = (6, 7, 7.5, 8, 8.5, 9, 10, 12)


def score(model, seconds: float | None) -> dict:
    test = load_a1b()[A1B_TEST].astype(np.float64)
    return {"steps": model.card["training"]["outer_steps"], "seconds": seconds,
            "unquantized": unquantized_psnr(model, test, 3),
            "at_015": psnr_at_rate(model, test, resolutions=ONE_PER_CHUNK),
            "at_015_12": psnr_at_rate(model, test, fields_per_chunk=12,
                                      resolutions=TWELVE_PER_CHUNK)}


def train_and_score(steps: int, keep: str | None, init: str | None = None) -> dict:
    torch.set_num_threads(1)
    start = time.monotonic()
    model = meta_train(load_a1b()[A1B_TRAIN], max_steps=steps, minutes=None, progress=False,
                       init=resolve(init) if init else None)
    seconds = time.monotonic() - start
    if keep:
        model.save(Path(keep) / f"a1b-{steps}-steps.safetensors")
    return score(model, seconds)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    steps = [r["steps"] for r in rows]
    for key, label in [("unquantized", "unquantized latents"),
                       ("at_015_12", "0.15 bits/value, 12 fields per chunk"),
                       ("at_015", "0.15 bits/value, 1 field per chunk")]:
        ax.plot(steps, [r[key] for r in rows], marker="o", label=label)
    ax.axhline(46, color="grey", linestyle=":", label="issue #3's target")
    ax.set(xscale="log", xlabel="outer steps of 16 patches (each run its own schedule)",
           ylabel="PSNR dB, A1B fields 192-239",
           title="What more meta-training buys (bundled recipe)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, nargs="+", default=[650, 1300, 2600, 5200])
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    p.add_argument("--model", default="default-2d", help="the full run, scored as the last point")
    p.add_argument("--out", help="write OUT.md, OUT.json and OUT.png")
    p.add_argument("--keep", help="save the trained models in this folder")
    p.add_argument("--init", help="continue this model rather than start afresh (a smoke test: "
                                  "a few steps from scratch cannot reach 0.15 bits per value)")
    args = p.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    # Longest first, so the shorter runs share the other worker.
    with ProcessPoolExecutor(args.jobs) as pool:
        steps = sorted(args.steps, reverse=True)
        rows = list(pool.map(train_and_score, steps, [args.keep] * len(steps),
                             [args.init] * len(steps)))
    torch.set_num_threads(1)
    full = resolve(args.model)
    rows = sorted(rows + [score(full, full.card["training"]["seconds"])], key=lambda r: r["steps"])
    lines = [f"The bundled recipe ({BUNDLED.describe()}) meta-learned on A1B fields 0-191 for "
             f"each number of outer steps, each run with its whole cosine schedule, scored on "
             f"fields 192-239; {machine()}, {args.jobs} runs at a time, one torch thread each. "
             f"The last row is the bundled model `{args.model}` (a 59-minute time budget on two "
             "threads).", "",
             "| outer steps | minutes here | unquantized PSNR dB | PSNR dB at 0.15 bits/value, "
             "1 field per chunk | 12 fields per chunk |", "|---|---|---|---|---|"]
    lines += [f"| {r['steps']} | {r['seconds'] / 60:.1f} | {r['unquantized']:.2f} | "
              f"{r['at_015']:.2f} | {r['at_015_12']:.2f} |" for r in rows]
    publish(lines, f"{args.out}.md" if args.out else None)
    if args.out:
        Path(f"{args.out}.json").write_text(json.dumps(rows, indent=1) + "\n")
        plot(rows, Path(f"{args.out}.png"))


if __name__ == "__main__":
    main()
