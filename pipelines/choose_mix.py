"""Choose the affine-mix spread (``meta_train(mix=...)``) without looking at the test fields.

Each configuration is meta-learned on A1B fields 0-143 for the same wall-clock time (one torch
thread each, ``--jobs`` at a time) and scored on fields 144-191: later years the model never
saw, as the test fields 192-239 are later than all training fields. PSNR is over those fields'
range in K, with unquantized latents (3 and 10 inner steps), beside the PSNR on the last 48
fields it trained on (how much it has fitted them rather than their kind).

    python pipelines/choose_mix.py [--minutes 15] [--mix 0 1 2 3 5] [--jobs 2] \
        [--markdown docs/mix.md]
"""

from pipelines_common import (
    PILOT_FIT,
    machine,
    pilot,
    pilot_arguments,
    publish,
    side_by_side,
    table,
    unquantized_psnr,
)


def score(mix: float, latent_dim: int, minutes: float) -> dict:
    model, fields, scores = pilot(minutes, latent_dim=latent_dim, mix=mix, latent_basis=False)
    return {"mix": mix, "latent_dim": latent_dim, **scores,
            "trained": unquantized_psnr(model, fields[PILOT_FIT][-48:], 3)}


def main() -> None:
    p = pilot_arguments(__doc__)
    p.add_argument("--mix", type=float, nargs="+", default=[0, 1, 2, 3, 5])
    p.add_argument("--latent-dim", type=int, nargs="+", default=[64])
    args = p.parse_args()
    configs = [(m, d, args.minutes) for d in args.latent_dim for m in args.mix]
    rows = side_by_side(score, configs, args.jobs)
    lines = [f"Affine-mix spread chosen on A1B: trained on fields 0-143 for {args.minutes:g} "
             f"minutes each, scored on fields 144-191 (unquantized latents, PSNR over their "
             f"range); {machine()}, {args.jobs} configurations at a time.", "",
             *table(["mix", "latent dim", "outer steps", "PSNR dB, fields 144-191, 3 steps",
                     "10 steps", "PSNR dB, fields 96-143 (trained on)"],
                    [[f"{r['mix']:g}", r["latent_dim"], r["steps"], f"{r['unseen_3']:.2f}",
                      f"{r['unseen_10']:.2f}", f"{r['trained']:.2f}"] for r in rows])]
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
