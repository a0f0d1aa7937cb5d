"""Choose the affine-mix spread (``meta_train(mix=...)``) without looking at the test fields.

Each configuration is meta-learned on A1B fields 0-143 for the same wall-clock time (one torch
thread each, ``--jobs`` at a time) and scored on fields 144-191: later years the model never
saw, as the test fields 192-239 are later than all training fields. PSNR is over those fields'
range in K, with unquantized latents (3 and 10 inner steps), beside the PSNR on the last 48
fields it trained on (how much it has fitted them rather than their kind).

    python pipelines/choose_mix.py [--minutes 15] [--mix 0 1 2 3 5] [--jobs 2] \
        [--markdown docs/mix.md]
"""

import argparse
from concurrent.futures import ProcessPoolExecutor

import torch
from pipelines_common import machine, publish, unquantized_psnr

from inrcodec.sample_data import load_a1b
from inrcodec.train import meta_train

FIT, SCORE = slice(0, 144), slice(144, 192)


def score(mix: float, latent_dim: int, minutes: float) -> dict:
    torch.set_num_threads(1)
    fields = load_a1b()
    model = meta_train(fields[FIT], latent_dim=latent_dim, lr=1e-3, mix=mix, latent_basis=False,
                       time_budget=60 * minutes, progress=False)
    return {"mix": mix, "latent_dim": latent_dim, "steps": model.card["training"]["outer_steps"],
            "unseen_3": unquantized_psnr(model, fields[SCORE], 3),
            "unseen_10": unquantized_psnr(model, fields[SCORE], 10),
            "trained": unquantized_psnr(model, fields[FIT][-48:], 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--mix", type=float, nargs="+", default=[0, 1, 2, 3, 5])
    p.add_argument("--latent-dim", type=int, nargs="+", default=[64])
    p.add_argument("--jobs", type=int, default=2, help="configurations trained at once")
    p.add_argument("--markdown")
    args = p.parse_args()
    configs = [(m, d, args.minutes) for d in args.latent_dim for m in args.mix]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(score, *zip(*configs)))
    torch.set_num_threads(1)
    lines = [f"Affine-mix spread chosen on A1B: trained on fields 0-143 for {args.minutes:g} "
             f"minutes each, scored on fields 144-191 (unquantized latents, PSNR over their "
             f"range); {machine()}, {args.jobs} configurations at a time.", "",
             "| mix | latent dim | outer steps | PSNR dB, fields 144-191, 3 steps | 10 steps | "
             "PSNR dB, fields 96-143 (trained on) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['mix']:g} | {r['latent_dim']} | {r['steps']} | {r['unseen_3']:.2f} | "
              f"{r['unseen_10']:.2f} | {r['trained']:.2f} |" for r in rows]
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
