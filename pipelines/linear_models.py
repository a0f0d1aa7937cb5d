"""Write the bundled linear models: each bundled default SIREN's first-order span as a linear
model (inrcodec/linear.py), with its coefficients' spread from the SIREN's own training data.

    python pipelines/linear_models.py

Seconds, deterministic. ``linear-2d`` is the span of ``default-2d`` over A1B fields 0-191,
``linear-3d`` that of ``default-3d`` over the MNI brain's left half: each decodes as its SIREN
does where that was trained (docs/compare-models.md) at 2K operations a value, the same bits on
every machine. A bundled file is never rewritten once released: a change takes a new name.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from train_default_3d import HELD_OUT_FROM_X, PATCH, patches  # noqa: E402

from inrcodec.linear import from_network  # noqa: E402
from inrcodec.model import resolve  # noqa: E402
from inrcodec.sample_data import A1B_TRAIN, load_a1b, load_mni  # noqa: E402
from inrcodec.training_windows import codec_patches  # noqa: E402

MODELS = Path(__file__).parent.parent / "inrcodec" / "models"


def linear_2d():
    siren = resolve("default-2d")
    found = codec_patches(list(load_a1b()[A1B_TRAIN]), siren.patch_shape)
    return from_network(siren, *_flat(found), card={
        "name": "linear-2d", "data": "default-2d's first-order span; the spread of its "
        "coefficients over A1B fields 0-191 (iris-sample-data), each normalised as a chunk"})


def linear_3d():
    siren = resolve("default-3d")
    volume = load_mni()[:HELD_OUT_FROM_X]
    found = codec_patches(list(patches(volume, PATCH, PATCH // 2)), siren.patch_shape)
    return from_network(siren, *_flat(found), card={
        "name": "linear-3d", "data": f"default-3d's first-order span; the spread of its "
        f"coefficients over {PATCH}^3 patches of the MNI152 brain, x < {HELD_OUT_FROM_X}"})


def _flat(found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = found.reshape(len(found), -1)
    return np.nan_to_num(flat), np.isfinite(flat).astype(np.float64)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=MODELS, help="folder to write them to")
    out = parser.parse_args().out
    for name, make in [("linear-2d", linear_2d), ("linear-3d", linear_3d)]:
        model = make()
        path = out / f"{name}.safetensors"
        if out != MODELS and (MODELS / path.name).read_bytes() != model.to_bytes():
            sys.exit(f"{path.name} differs from the bundled one: the pipeline no longer "
                     "reproduces it")
        if path.exists() and path.read_bytes() != model.to_bytes():
            sys.exit(f"{path} exists and differs: a bundled model is never rewritten")
        path.write_bytes(model.to_bytes())
        print(f"{path}: hash {model.hash[:12]}, {model.latent_dim} latents, "
              f"{len(model.to_bytes()):,} bytes, from {model.card['patches']} patches")
