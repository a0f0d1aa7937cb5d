"""Reproduce the bundled default 3-D model: meta-learned on 16^3 patches of the MNI152 brain.

Training sees the left half of the template (x < 98) only; the right half is held out.

    python pipelines/train_default_3d.py --minutes 15 --out inrcodec/models/default-3d.safetensors
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from inrcodec.sample_data import load_mni
from inrcodec.train import meta_train

PATCH = 16
HELD_OUT_FROM_X = 98


def patches(volume: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every ``size``^3 block on a ``stride`` grid that holds some brain (not all background)."""
    blocks = [volume[x:x + size, y:y + size, z:z + size]
              for x in range(0, volume.shape[0] - size + 1, stride)
              for y in range(0, volume.shape[1] - size + 1, stride)
              for z in range(0, volume.shape[2] - size + 1, stride)]
    return np.stack([b for b in blocks if np.ptp(b) > 0]).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--out", default="inrcodec/models/default-3d.safetensors")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    volume = load_mni()
    train = patches(volume[:HELD_OUT_FROM_X], PATCH, PATCH // 2)
    held_out = patches(volume[HELD_OUT_FROM_X:], PATCH, PATCH)
    rng = np.random.default_rng(args.seed)
    model = meta_train(train, width=args.width, depth=args.depth, latent_dim=args.latent_dim,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       time_budget=args.minutes * 60, val_every=250, val_samples=held_out[
                           rng.choice(len(held_out), 32, replace=False)],
                       card={"data": f"MNI152 T1 template (nilearn), x < {HELD_OUT_FROM_X}: "
                                     f"{len(train)} patches of {PATCH}^3 with some brain"})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"saved {args.out} ({Path(args.out).stat().st_size} bytes), hash {model.hash[:12]}")
    print(model.card["validation"][-3:])


if __name__ == "__main__":
    main()
