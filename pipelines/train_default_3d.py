"""Reproduce the bundled default 3-D model: meta-learned on 16^3 patches of the MNI152 brain.

Training sees the left half of the template (x < 98) only; the right half is held out.

    python pipelines/train_default_3d.py --minutes 15 --no-latent-basis \
        --out inrcodec/models/default-3d.safetensors

Without a latent basis: fitting one (``--minutes 0 --resume`` the model) lost 0.1 dB at equal
rate on a held-out 64^3 cube, where the network's error, not the latents', sets the quality.
"""

import numpy as np
from pipelines_common import train_and_save, training_arguments

from inrcodec.sample_data import load_mni

PATCH = 16
HELD_OUT_FROM_X = 98


def patches(volume: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every ``size``^3 block on a ``stride`` grid that holds some brain (not all background)."""
    blocks = [volume[x:x + size, y:y + size, z:z + size]
              for x in range(0, volume.shape[0] - size + 1, stride)
              for y in range(0, volume.shape[1] - size + 1, stride)
              for z in range(0, volume.shape[2] - size + 1, stride)]
    return np.stack([b for b in blocks if np.ptp(b) > 0]).astype(np.float32)


if __name__ == "__main__":
    # The bundled recipe but for a shallower network, smaller batches and the patches themselves
    # (the 3-D model predates affine mixes).
    args = training_arguments(__doc__, minutes=15.0, depth=3, batch_size=8, mix=0.0,
                              out="inrcodec/models/default-3d.safetensors")
    volume = load_mni()
    train = patches(volume[:HELD_OUT_FROM_X], PATCH, PATCH // 2)
    held_out = patches(volume[HELD_OUT_FROM_X:], PATCH, PATCH)
    watched = held_out[np.random.default_rng(args.seed).choice(len(held_out), 32, replace=False)]
    train_and_save(train, args, val_samples=watched, val_every=250,
                   card={"data": f"MNI152 T1 template (nilearn), x < {HELD_OUT_FROM_X}: "
                                 f"{len(train)} patches of {PATCH}^3 with some brain"})
