"""Short training pilots: which meta-training settings are worth a full run, without the test fields.

Each configuration (``meta_train`` keywords as JSON, on top of the bundled recipe: lr 1e-3,
affine mixes of spread 3, a latent basis) is meta-learned on A1B fields 0-143 for the same
wall-clock time, one torch thread each, ``--jobs`` at a time, and scored on the later, unseen
fields 144-191: unquantized (3 and 10 inner steps) and through the codec, one field per chunk,
every byte counted, PSNR read off at 0.15 bits per value (interpolated between latent
resolutions). PSNR is over those fields' range in K.

    python pipelines/training_pilots.py --minutes 15 \\
        --config 'base={}' 'qat6={"quantization_bits": 6}' 'w40={"w0": 40}' \\
        [--markdown docs/training-pilots.md]
"""

import argparse
import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from pipelines_common import machine, publish, unquantized_psnr

from inrcodec import INRCodec
from inrcodec.bench.metrics import psnr
from inrcodec.sample_data import load_a1b
from inrcodec.train import meta_train

FIT, SCORE = slice(0, 144), slice(144, 192)
RECIPE = {"lr": 1e-3, "mix": 3.0}
RESOLUTIONS = (5.5, 6, 6.5, 7)  # latent bits around 0.15 bits per value, one field per chunk


def psnr_at_rate(model, fields: np.ndarray, rate: float = 0.15, fields_per_chunk: int = 1,
                 resolutions=RESOLUTIONS) -> float:
    """PSNR through the codec, every byte counted, interpolated to ``rate`` bits per value
    between the latent ``resolutions`` (which must bracket it)."""
    points = []
    chunks = [fields[i:i + fields_per_chunk] for i in range(0, len(fields), fields_per_chunk)]
    for bits in resolutions:
        codec = INRCodec(model, latent_bits=bits)
        encoded = [codec.encode(c) for c in chunks]
        decoded = np.concatenate([codec.decode(e).reshape(c.shape)
                                  for e, c in zip(encoded, chunks)])
        points.append((8 * sum(map(len, encoded)) / fields.size, psnr(fields, decoded)))
    rates, psnrs = zip(*sorted(points))
    if not rates[0] <= rate <= rates[-1]:
        raise ValueError(f"latent resolutions {resolutions} give {rates[0]:.3f}-{rates[-1]:.3f} "
                         f"bits per value, which does not bracket {rate}")
    return float(np.interp(rate, rates, psnrs))


def score(name: str, keywords: dict, minutes: float) -> dict:
    torch.set_num_threads(1)
    fields = load_a1b()
    model = meta_train(fields[FIT], **{**RECIPE, **keywords}, time_budget=60 * minutes,
                       progress=False)
    return {"name": name, "keywords": keywords,
            "steps": model.card["training"]["outer_steps"],
            "unseen_3": unquantized_psnr(model, fields[SCORE], 3),
            "unseen_10": unquantized_psnr(model, fields[SCORE], 10),
            "at_015": psnr_at_rate(model, fields[SCORE].astype(np.float64))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--config", nargs="+", required=True, metavar="NAME=JSON")
    p.add_argument("--jobs", type=int, default=2, help="configurations trained at once")
    p.add_argument("--markdown")
    args = p.parse_args()
    torch.set_num_threads(1)  # as in each worker, so the report's machine line says so
    names, keywords = zip(*[(c.split("=", 1)[0], json.loads(c.split("=", 1)[1]))
                            for c in args.config])
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(score, names, keywords, [args.minutes] * len(names)))
    lines = [f"Training pilots on A1B: meta-learned on fields 0-143 for {args.minutes:g} minutes "
             f"each ({RECIPE} plus the keywords shown), scored on fields 144-191; {machine()}, "
             f"{args.jobs} configurations at a time.", "",
             "| pilot | meta_train keywords | outer steps | unquantized PSNR dB, 3 steps | "
             "10 steps | PSNR dB at 0.15 bits/value |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | `{json.dumps(r['keywords'])}` | {r['steps']} | "
              f"{r['unseen_3']:.2f} | {r['unseen_10']:.2f} | {r['at_015']:.2f} |" for r in rows]
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
