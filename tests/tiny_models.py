"""Small models trained in seconds, for tests of mechanics (not of quality)."""

import numpy as np

from conftest import smooth_field
from inrcodec import Model
from inrcodec.train import meta_train


def tiny_model(patch_shape, tmp_path, steps=5) -> str:
    samples = np.stack([smooth_field(patch_shape, seed) for seed in range(8)])
    model = meta_train(samples, width=16, depth=2, latent_dim=8, batch_size=4,
                       max_steps=steps, progress=False)
    path = tmp_path / f"tiny-{len(patch_shape)}d.safetensors"
    model.save(path)
    assert Model.load(path).hash == model.hash
    return str(path)
