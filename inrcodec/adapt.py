"""Learning a user's archive within a time budget: distinct windows read from the source, a model
fine-tuned on them (or meta-learned afresh), and what that bought on held-out windows.

The budget covers the whole step: reading the windows, the outer loop, the quantizer's
statistics and the measurements before and after. The measurement before training is timed, and
so are the statistics on ``PROBE_PATCHES`` patches; the outer loop stops ``RESERVE`` times their
cost (the statistics scaled to ``STATS_PATCHES``) before the deadline, so the step ends within
the budget and ``MARGIN_S`` seconds (a slow last outer step, a busy machine).
"""

import time
from dataclasses import dataclass

import numpy as np

from .measure import codec_round_trip
from .model import Model, resolve
from .patches import count_patches
from .training_windows import Windows, codec_patches, open_source, sample_patches

MARGIN_S = 10.0  # the stated margin past the budget
REPORT_PATCHES = 64  # held-out windows of about this many patches are measured before and after
STATS_PATCHES = 256  # patches the quantizer's statistics are fitted on (a choice, not tuned)
REPORT_LATENT_BITS = 6.5  # the codec's default
FINE_TUNE_LR = 1e-4  # a tenth of the recipe's, for fine-tuning a trained model (not tuned)
RESERVE = 1.5  # the outer loop stops this many times the estimated rest before the deadline
PROBE_PATCHES = 64  # patches the statistics are timed on


class NoTimeToTrain(ValueError):
    """A budget that reading the windows and measuring would take whole."""


@dataclass
class NotAdapted:
    """A variable left with its starting model: the budget's share left it no time."""

    model: Model
    why: str
    kept: bool = False

    def describe(self) -> str:
        return f"not adapted: {self.why}, so the starting model is kept"


@dataclass
class Adaptation:
    model: Model
    windows: Windows
    before: dict | None  # {"bits_per_value", "psnr_db"} of the starting model, held-out windows
    after: dict | None  # of the adapted model, whether kept or not
    outer_steps: int  # in this adaptation
    kept: bool  # False: the adapted model did worse on the held-out windows; ``model`` is the start
    seconds: float
    budget_s: float
    patches: int = 0  # the windows cut into patches as the codec cuts chunks
    unpaid: str | None = None  # why the adapted model, embedded, would not pay for its bytes

    def describe(self) -> str:
        text = (f"adapted in {self.seconds:.0f} s of a {self.budget_s:.0f} s budget (margin "
                f"{MARGIN_S:.0f} s): {self.outer_steps} outer steps on {self.patches} patches of "
                f"{self.windows.describe()}")
        if self.after is not None:
            after = f"{self.after['psnr_db']:.2f} dB at {self.after['bits_per_value']:.3f} bits/value"
            before = "" if self.before is None else (
                f"{self.before['psnr_db']:.2f} dB at {self.before['bits_per_value']:.3f} "
                "bits/value before, ")
            text += (f"; held-out windows, plain latents at {REPORT_LATENT_BITS:g} bits: {before}"
                     f"{after}{'' if self.before is None else ' after'}")
        if self.unpaid is not None:
            return f"{text}; {self.unpaid}, so the starting model is kept"
        if not self.kept:
            why = "the training diverged" if self.after is None else "that is worse"
            return f"{text}; {why}, so the starting model is kept"
        return text


def adapt(source, variable: str, minutes: float, *, init: "Model | str | None" = None,
          patch_shape: tuple[int, ...] | None = None, chunks: tuple[int, ...] | None = None,
          samples: int = 4096, seed: int = 0, device: str = "auto", progress: bool = True,
          card: dict | None = None, **recipe_changes) -> Adaptation:
    """A model for ``variable`` of ``source``: ``init`` (a model or a bundled name) fine-tuned,
    or, without it, one of ``patch_shape`` meta-learned afresh, all within ``minutes``.

    It learns from distinct windows of the variable's chunks (``chunks``, by default those
    ``compress`` would choose), each normalised as a whole and cut into patches as the codec
    cuts a chunk, enough windows for ``samples`` patches (fewer where patches that are mostly
    padding or NaN are left out, or the archive holds fewer windows): the model learns what it
    will meet in the store.
    """
    from .train import meta_train
    from .xarray import chunks_for

    began = time.monotonic()
    budget = 60.0 * minutes
    if not budget > 0:
        raise ValueError(f"a time budget must be positive, not {minutes!r} minutes")
    start = resolve(init) if init is not None else None
    if start is not None and start.linear:
        raise ValueError(f"{start.card.get('name', 'the model')} is a linear model: it is learned "
                         "from the archive (inrcodec train --linear K, or compress without "
                         "--adapt), not fine-tuned; --adapt starts from a SIREN such as "
                         "universal-2d")
    if start is None and patch_shape is None:
        raise ValueError("give the model to adapt, or the patch shape of a new one")
    shape = start.patch_shape if start is not None else tuple(patch_shape)
    ds = open_source(source)
    if variable not in ds.data_vars:
        raise ValueError(f"no variable {variable!r} in the source; it has {sorted(ds.data_vars)}")
    var, d = ds[variable], len(shape)
    chunks = chunks or chunks_for(var.shape, var.dtype.itemsize, shape, var.dims)
    # A window is one slice of a chunk (its leading axes at one index): the codec normalises a
    # chunk's slices together, so where chunks group several fields a window's normalisation
    # is that of one of them (the same wherever the leading extent is 1).
    window = tuple(min(c, n) for c, n in zip(chunks[-d:], var.shape[-d:]))
    per_window = count_patches(window, shape)
    windows = sample_patches(ds, variable, window, -(-samples // per_window), seed=seed,
                             progress=progress)
    train = codec_patches(windows.train, shape)
    held_out = (None if windows.validation is None
                else windows.validation[:-(-REPORT_PATCHES // per_window)])

    # What follows the outer loop, timed on this machine: measuring the held-out windows, and
    # the quantizer's statistics (timed on a few patches, then scaled to STATS_PATCHES).
    probe = start if start is not None else _fresh(shape, recipe_changes, seed)
    clock = time.monotonic()
    before = measure(probe, held_out) if held_out is not None else None
    report_s = time.monotonic() - clock
    before = before if start is not None else None
    stats = min(len(train), STATS_PATCHES)
    few = train[:PROBE_PATCHES]
    clock = time.monotonic()
    _statistics(probe, few)
    rest = report_s + (time.monotonic() - clock) * stats / len(few)
    train_s = budget - (time.monotonic() - began) - RESERVE * rest
    if train_s <= 0:
        needed = (time.monotonic() - began + RESERVE * rest) / 60
        raise NoTimeToTrain(f"a budget of {minutes:g} minutes leaves no time to train: reading "
                            f"the windows and measuring take {needed:.1f} minutes here; give more")
    if start is not None:  # fine-tuning: a smaller rate, and the starting model's own data mix
        trained = start.card.get("recipe") or start.card.get("training", {})  # older cards
        mix = trained.get("mix", 0.0)
        recipe_changes = {"lr": FINE_TUNE_LR, "mix": mix, **recipe_changes}
    try:
        model = meta_train(train, init=start, device=device, progress=progress, normalise=False,
                           stats_samples=stats, card=card, seed=seed, minutes=train_s / 60,
                           max_steps=None, **recipe_changes)
    except np.linalg.LinAlgError:  # the latents' statistics of a network gone non-finite
        if start is None:
            raise ValueError("training diverged (the network's values are no longer finite): "
                             "try a smaller --lr") from None
        return Adaptation(start, windows, before, None, 0, False, time.monotonic() - began, budget,
                          len(train))
    after = None if held_out is None else measure(model, held_out)
    steps = model.card["training"]["outer_steps"] - (
        start.card.get("training", {}).get("outer_steps", 0) if start is not None else 0)
    model.card["adaptation"] = {"before": before, "after": after, "outer_steps": steps,
                                "windows": len(windows.train), "patches": len(train),
                                "held_out": 0 if held_out is None
                                else len(held_out), "from": None if start is None else start.hash}
    # Adapting must not make things worse: a model that does worse on the held-out windows
    # than the one it started from gives way to it.
    kept = before is None or after is None or after["psnr_db"] >= before["psnr_db"]
    return Adaptation(model if kept else start, windows, before, after, steps, kept,
                      time.monotonic() - began, budget, len(train))


def measure(model: Model, windows: np.ndarray) -> dict:
    """Bits per value (every stored byte) and PSNR of ``windows``, each its own chunk, as plain
    latents: what the network alone does, before any error bound takes over."""
    from .codecs.numcodecs import INRCodec

    trip = codec_round_trip(INRCodec(model, latent_bits=REPORT_LATENT_BITS, min_psnr=None),
                            list(windows))
    return {"bits_per_value": round(trip.bits_per_value, 4), "psnr_db": round(trip.psnr(), 3)}


def _fresh(shape: tuple[int, ...], recipe_changes: dict, seed: int) -> Model:
    """An untrained model of the recipe's size: what measuring a new model costs."""
    import dataclasses

    import torch

    from .nn.network import ModulatedSiren
    from .recipe import BUNDLED

    recipe = dataclasses.replace(BUNDLED, **recipe_changes)
    torch.manual_seed(seed)
    net = ModulatedSiren(len(shape), recipe.width, recipe.depth, recipe.latent_dim, recipe.w0)
    dim = recipe.latent_dim
    return Model(net, torch.full((dim,), recipe.step_size_init), shape, np.zeros(dim), np.ones(dim))


def _statistics(model: Model, windows: np.ndarray) -> None:
    """The quantizer's statistics of ``windows``, as meta_train fits them (for their time)."""
    import torch

    from .nn.coords import grid
    from .train import as_normalised, latent_statistics

    values, weights = (torch.from_numpy(a).flatten(1) for a in as_normalised(windows))
    latent_statistics(model.net, model.step_sizes, grid(model.patch_shape), values, weights,
                      3, with_basis=True)


__all__ = ["Adaptation", "MARGIN_S", "NoTimeToTrain", "NotAdapted", "adapt", "measure"]
