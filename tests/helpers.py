"""What the tests share that is not a fixture: data generators and small models for tests of
mechanics (not of quality). Fixtures are in conftest.py."""

from pathlib import Path

import numpy as np


def smooth_field(shape, seed=0) -> np.ndarray:
    """A smooth random field: a few low-frequency waves, like geophysical data."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    out = np.zeros(shape)
    for _ in range(4):
        phase = sum(rng.uniform(0, 3) * a for a in axes)
        out += rng.normal() * np.sin(2 * np.pi * phase + rng.uniform(0, 6))
    return (280 + 5 * out).astype(np.float32)


def train_tiny_model(patch_shape, folder: Path, steps: int = 5) -> str:
    """A model meta-learned in seconds on smooth fields of ``patch_shape``, saved in ``folder``;
    its path. Tests take it from the session's ``tiny_model`` fixture, which trains each once."""
    from inrcodec import Model
    from inrcodec.train import meta_train

    samples = np.stack([smooth_field(patch_shape, seed) for seed in range(8)])
    model = meta_train(samples, width=16, depth=2, latent_dim=8, batch_size=4,
                       max_steps=steps, progress=False)
    path = Path(folder) / f"tiny-{'x'.join(map(str, patch_shape))}-{steps}-steps.safetensors"
    model.save(path)
    assert Model.load(path).hash == model.hash
    return str(path)


def linear_model_of(fields: np.ndarray, latents: int, patch_shape=(37, 49)):
    """A linear model (linear.py): the EOFs of ``fields`` cut as the codec cuts chunks."""
    from inrcodec.linear import learn
    from inrcodec.training_windows import codec_patches

    patches = codec_patches(list(fields), patch_shape).reshape(-1, int(np.prod(patch_shape)))
    return learn(np.nan_to_num(patches), np.isfinite(patches), patch_shape, latents)
