"""Meta-training throughput: patches per second, for the bundled models' configurations.

Each configuration trains for a fixed number of outer steps on real patches (A1B fields for
2-D, MNI brain windows for 3-D) after a few warm-up steps; a patch is one sample of an outer
batch, fitted by the inner loop and then used in the outer update. The first inner step is a
matrix product (nn/fit.Linearisation); the rows "by autograd" take it as the others, as
training did before, so the two are compared in one run.

    python pipelines/training_throughput.py [--steps 200] [--markdown docs/training.md]
"""

import argparse

import numpy as np
import torch
from pipelines_common import machine, publish

from inrcodec.sample_data import A1B_TRAIN, load_a1b, load_mni
from inrcodec.train import Recipe, meta_train

CONFIGS = [  # (name, data, architecture and loop)
    ("2-D 37x49, width 64, depth 4, full MAML", "a1b", dict(depth=4, first_order=False)),
    ("2-D 37x49, width 64, depth 4, full MAML, first inner step by autograd", "a1b",
     dict(depth=4, first_order=False, linearise=False)),
    ("2-D 37x49, width 64, depth 4, first-order", "a1b", dict(depth=4, first_order=True)),
    ("3-D 16^3, width 64, depth 3, full MAML", "mni", dict(depth=3, first_order=False)),
    ("3-D 16^3, width 64, depth 3, full MAML, first inner step by autograd", "mni",
     dict(depth=3, first_order=False, linearise=False)),
    ("3-D 16^3, width 64, depth 3, first-order", "mni", dict(depth=3, first_order=True)),
]


def samples(name: str) -> np.ndarray:
    if name == "a1b":
        return load_a1b()[A1B_TRAIN]
    brain = load_mni().astype(np.float32)
    corners = np.random.default_rng(0).integers(0, np.array(brain.shape) - 16, (256, 3))
    return np.stack([brain[x:x + 16, y:y + 16, z:z + 16] for x, y, z in corners])


def patches_per_second(data: np.ndarray, steps: int, batch_size: int, linearise: bool = True,
                       **options) -> float:
    # The patches themselves, not affine mixes of them: docs/training.md was measured so.
    recipe = Recipe(batch_size=batch_size, mix=0.0, minutes=None, max_steps=steps, **options)
    meta_train(data, recipe, max_steps=3, progress=False, linearise=linearise)  # warm-up
    model = meta_train(data, recipe, max_steps=steps, progress=False, linearise=linearise)
    return steps * batch_size / model.card["training"]["seconds"]  # the outer loop's own time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    lines = [f"Meta-training throughput, {args.steps} outer steps of {args.batch_size} patches, "
             f"3 inner steps, after warm-up; {machine()}.", "",
             "| configuration | patches/s |", "|---|---|"]
    for name, data, options in CONFIGS:
        rate = patches_per_second(samples(data), args.steps, args.batch_size, **options)
        lines.append(f"| {name} | {rate:.1f} |")
        print(lines[-1], flush=True)
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
