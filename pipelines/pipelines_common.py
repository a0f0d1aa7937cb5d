"""What the pipelines share: the machine line of every report, the training options, report
tables, and the network's unquantized ceiling on a set of fields."""

import argparse
from pathlib import Path

import numpy as np
import torch

from inrcodec.bench.machine import machine
from inrcodec.bench.metrics import psnr
from inrcodec.bench.pca import normalised
from inrcodec.nn.coords import grid
from inrcodec.nn.fit import fit_latents

__all__ = ["machine", "publish", "train_and_save", "training_arguments", "unquantized_psnr"]


def training_arguments(description: str, **defaults) -> argparse.Namespace:
    """The options every training pipeline takes; ``defaults`` override the usual values."""
    defaults = {"minutes": 50.0, "width": 64, "depth": 4, "latent_dim": 64, "batch_size": 16,
                "lr": 1e-3, **defaults}
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=defaults["minutes"])
    p.add_argument("--out", default=defaults["out"])
    p.add_argument("--width", type=int, default=defaults["width"])
    p.add_argument("--depth", type=int, default=defaults["depth"])
    p.add_argument("--latent-dim", type=int, default=defaults["latent_dim"])
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", help="continue training this model file")
    p.add_argument("--quantization-bits", type=int,
                   help="quantization-aware training at this latent bit depth")
    p.add_argument("--gate-penalty", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="meta-learn L0 gates on the latents (size-budget mode), penalties drawn "
                        "log-uniformly from LOW-HIGH")
    p.add_argument("--mix", type=float, default=0.0,
                   help="train on affine mixes x_i + a (x_j - x_k) of the samples, |a| <= MIX")
    p.add_argument("--no-latent-basis", dest="latent_basis", action="store_false",
                   help="quantize the latents themselves, not their coefficients in a fitted basis")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    return args


def train_and_save(samples, args: argparse.Namespace, **kwargs) -> None:
    """Meta-learn on ``samples`` with the options in ``args``, save the model, say where."""
    from inrcodec import Model
    from inrcodec.train import meta_train

    model = meta_train(samples, width=args.width, depth=args.depth, latent_dim=args.latent_dim,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       time_budget=args.minutes * 60, quantization_bits=args.quantization_bits,
                       gate_penalty=args.gate_penalty, latent_basis=args.latent_basis, mix=args.mix,
                       init=Model.load(args.resume) if args.resume else None, **kwargs)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"saved {args.out} ({Path(args.out).stat().st_size} bytes), hash {model.hash[:12]}")
    print(model.card["validation"][-3:])


def publish(lines: list[str], markdown: str | None) -> None:
    """Print a report's lines as one markdown table, and write it to ``markdown`` if given."""
    table = "\n".join(lines) + "\n"
    print(table)
    if markdown:
        Path(markdown).write_text(table)


def unquantized_psnr(model, fields, inner_steps: int) -> float:
    """PSNR (over the fields' range) of the fields, each normalised as the codec does and
    fitted from a zero latent, the latents unquantized: the network's ceiling on them."""
    values, norms = zip(*[normalised(f)[:2] for f in fields])
    target = torch.tensor(np.stack(values), dtype=torch.float32)
    coords = grid(model.patch_shape)
    latents = fit_latents(model.net, coords, target, torch.ones_like(target), model.step_sizes,
                          inner_steps)
    with torch.no_grad():
        out = model.net(coords, latents).numpy()
    decoded = [n.invert(o).reshape(f.shape) for o, n, f in zip(out, norms, fields)]
    return psnr(fields, np.stack(decoded))
