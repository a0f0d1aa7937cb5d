"""What the pipelines share: the machine line of every report, the training options, report
tables, and the network's unquantized ceiling on a set of fields."""

import argparse
import dataclasses
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from inrcodec import INRCodec
from inrcodec.bench.machine import machine
from inrcodec.bench.stamp import stamp, stamped
from inrcodec.measure import chunks_along_first_axis, codec_round_trip, psnr
from inrcodec.nn.coords import grid
from inrcodec.nn.fit import fit_latents
from inrcodec.recipe import BUNDLED, add_recipe_arguments, recipe_from
from inrcodec.train import normalised

__all__ = ["PILOT_FIT", "PILOT_SCORE", "machine", "pilot", "pilot_arguments", "psnr_at_rate",
           "publish", "publish_results", "side_by_side", "stamp", "stamped", "table", "train_and_save",
           "training_arguments", "unquantized_psnr"]

# Pilots choose settings without the test fields: trained on A1B fields 0-143, scored on the
# later years 144-191, as the test fields 192-239 are later than all training fields.
PILOT_FIT, PILOT_SCORE = slice(0, 144), slice(144, 192)


def training_arguments(description: str, out: str, **changes) -> argparse.Namespace:
    """The options every training pipeline takes: the bundled recipe's, with ``changes`` to its
    fields as the defaults, the model file ``out``, and the torch threads."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recipe_arguments(p, dataclasses.replace(BUNDLED, **changes))
    p.add_argument("--out", default=out)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--resume", help="continue training this model file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    return args


def train_and_save(samples, args: argparse.Namespace, **kwargs) -> None:
    """Meta-learn on ``samples`` with the recipe in ``args``, save the model, say where."""
    from inrcodec import Model
    from inrcodec.train import meta_train

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    # A checkpoint a minute: a run cut short by the end of a session resumes with --resume.
    checkpoint = Path(f"{args.out}.checkpoint")
    model = meta_train(samples, recipe_from(args), checkpoint=checkpoint, checkpoint_every=60.0,
                       init=Model.load(args.resume) if args.resume else None, **kwargs)
    model.save(args.out)
    checkpoint.unlink(missing_ok=True)
    print(f"saved {args.out} ({Path(args.out).stat().st_size} bytes), hash {model.hash[:12]}")
    print(model.card["validation"][-3:])


def pilot_arguments(description: str) -> argparse.ArgumentParser:
    """The options every pilot takes; the caller adds what it varies."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0, help="training time of each run")
    p.add_argument("--jobs", type=int, default=2, help="configurations trained at once")
    p.add_argument("--markdown")
    return p


def side_by_side(score, configs: list[tuple], jobs: int) -> list[dict]:
    """``score(*config)`` of every configuration, ``jobs`` processes at a time (each should run
    one torch thread, as this process then does, so the report's machine line says so)."""
    with ProcessPoolExecutor(jobs) as pool:
        rows = list(pool.map(score, *zip(*configs)))
    torch.set_num_threads(1)
    return rows


def pilot(minutes: float, **changes) -> tuple:
    """One pilot run, in a worker process: the bundled recipe with ``changes``, meta-learned on
    A1B fields ``PILOT_FIT`` for ``minutes`` on one torch thread. (The model, the A1B fields, its
    outer steps and unquantized PSNR on the unseen fields ``PILOT_SCORE``, 3 and 10 inner steps.)"""
    from inrcodec.sample_data import load_a1b
    from inrcodec.train import meta_train

    torch.set_num_threads(1)
    fields = load_a1b()
    model = meta_train(fields[PILOT_FIT], **{"minutes": minutes, **changes}, progress=False)
    return model, fields, {"steps": model.card["training"]["outer_steps"],
                           "unseen_3": unquantized_psnr(model, fields[PILOT_SCORE], 3),
                           "unseen_10": unquantized_psnr(model, fields[PILOT_SCORE], 10)}


RESOLUTIONS = (5.5, 6, 6.5, 7)  # latent bits around 0.15 bits per value, one field per chunk


def psnr_at_rate(model, fields: np.ndarray, rate: float = 0.15, fields_per_chunk: int = 1,
                 resolutions=RESOLUTIONS) -> float:
    """PSNR of the network's latents alone (no PSNR floor: a floor would store the chunks it
    misses by the wavelet coder, at one rate whatever the resolution), every byte counted,
    interpolated to ``rate`` bits per value between the latent ``resolutions`` (which must
    bracket it)."""
    chunks = chunks_along_first_axis(fields, fields_per_chunk)
    trips = [codec_round_trip(INRCodec(model, latent_bits=bits, min_psnr=None), chunks)
             for bits in resolutions]
    rates, psnrs = zip(*sorted((t.bits_per_value, t.psnr()) for t in trips))
    if not rates[0] <= rate <= rates[-1]:
        raise ValueError(f"latent resolutions {resolutions} give {rates[0]:.3f}-{rates[-1]:.3f} "
                         f"bits per value, which does not bracket {rate}")
    return float(np.interp(rate, rates, psnrs))


def table(columns: list[str], rows: list[list]) -> list[str]:
    """The lines of a markdown table."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *["| " + " | ".join(map(str, cells)) + " |" for cells in rows]]


def publish_results(lines: list[str], results: list | dict, markdown: str | None) -> None:
    """``publish`` the report, and its results beside it as JSON (what ``--merge`` reads); a dict
    of results gets the document's stamp too, under "stamp"."""
    written = publish(lines, markdown)
    if markdown:
        import json

        if isinstance(results, dict):
            results = {**results, "stamp": written}
        Path(markdown).with_suffix(".json").write_text(json.dumps(results, indent=1, default=float))


def publish(lines: list[str], markdown: str | None, made: dict | bool = True) -> dict | None:
    """Print a report's lines as one markdown table, and write it to ``markdown`` if given, its
    stamp first (``inrcodec.bench.stamp``: the script, commit, bitstream version, models,
    machine and date; ``made``: a stamp to write instead of today's, or False for none, as for
    a report re-rendered from results that carry no stamp); the stamp written, if any."""
    table = "\n".join(lines) + "\n"
    print(table)
    if not markdown:
        return None
    written = (stamp() if made is True else made) or None
    Path(markdown).write_text(stamped(table, written) if written else table)
    if not written:
        print(f"note: {markdown} written without a stamp (its results carry none)")
    return written


def unquantized_psnr(model, fields, inner_steps: int) -> float:
    """PSNR (over the fields' range) of the fields, each normalised as the codec does and
    fitted from a zero latent, the latents unquantized: the network's ceiling on them."""
    values, norms = zip(*[normalised(f)[:2] for f in fields])
    target = torch.tensor(np.stack([v.ravel() for v in values]), dtype=torch.float32)
    coords = grid(model.patch_shape)
    latents = fit_latents(model.net, coords, target, torch.ones_like(target), model.step_sizes,
                          inner_steps)
    with torch.no_grad():
        out = model.net(coords, latents).numpy()
    decoded = [n.invert(o).reshape(f.shape) for o, n, f in zip(out, norms, fields)]
    return psnr(fields, np.stack(decoded))
