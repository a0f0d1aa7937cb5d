"""Reproduce the bundled default 2-D model: meta-learned on A1B fields 0-191 (37 x 49 patches).

    python pipelines/train_default.py --minutes 50 --out inrcodec/models/default-2d.safetensors
"""

import argparse
from pathlib import Path

import torch

from inrcodec import Model
from inrcodec.sample_data import A1B_TRAIN as TRAIN, load_a1b
from inrcodec.train import meta_train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--minutes", type=float, default=50.0)
    p.add_argument("--out", default="inrcodec/models/default-2d.safetensors")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", help="continue training this model file")
    p.add_argument("--quantization-bits", type=int, help="quantization-aware training at this "
                   "latent bit depth")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    fields = load_a1b()
    train = fields[TRAIN]
    # The last 16 training fields watch progress; they stay in the training set too.
    model = meta_train(train, width=args.width, depth=args.depth, latent_dim=args.latent_dim,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       time_budget=args.minutes * 60, val_samples=train[-16:],
                       init=Model.load(args.resume) if args.resume else None,
                       quantization_bits=args.quantization_bits,
                       card={"data": "iris-sample-data A1B_north_america.nc air_temperature, "
                                     "fields 0-191 (HadCM3 annual-mean 2 m temperature)"})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"saved {args.out} ({Path(args.out).stat().st_size} bytes), hash {model.hash[:12]}")
    print(model.card["validation"][-3:])


if __name__ == "__main__":
    main()
