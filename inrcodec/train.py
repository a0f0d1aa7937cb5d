"""Meta-learning a model (COIN++ with Meta-SGD step sizes).

Inner loop: a few SGD steps on each sample's latent, from zero, with a learned step per latent
dimension. Outer loop: Adam on the shared network, the latent-to-shift map and those step sizes,
differentiating through the inner loop (full second order unless ``first_order``). Afterwards the
latents of the training samples give the statistics the quantizer and entropy model use, and (for
models without gates) the latent basis they are quantized in (nn/basis.py).
"""

import copy
import dataclasses
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .coding.normalise import normalised
from .measure import psnr_db
from .model import Model
from .nn import gates
from .nn.basis import fit_basis
from .nn.coords import grid
from .nn.fit import fit_gated_latents, fit_in_batches, fit_latents, masked_mse
from .nn.network import ModulatedSiren
from .recipe import BUNDLED, Recipe

__all__ = ["Recipe", "meta_train", "normalised", "normalised_samples", "affine_mixes"]

STATS_SAMPLES = 4096


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def normalised_samples(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sample normalised as the codec normalises a chunk; (values with NaN -> 0, weights).

    Samples with fewer than two distinct finite values carry nothing to learn and are dropped.
    """
    values, weights = [], []
    for sample in samples:
        finite = np.isfinite(sample)
        if finite.sum() < 2 or np.ptp(sample[finite]) == 0:
            continue
        values.append(normalised(sample)[0])
        weights.append(finite)
    if not values:
        raise ValueError("no training sample has two distinct finite values")
    return np.stack(values).astype(np.float32), np.stack(weights).astype(np.float32)


def as_normalised(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples normalised beforehand, as (values with NaN -> 0, weights); those with fewer than
    two distinct finite values are dropped, as ``normalised_samples`` drops them."""
    finite = np.isfinite(samples)
    flat = np.where(finite, samples, np.nan).reshape(len(samples), -1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples are dropped just below
        keep = (finite.reshape(len(samples), -1).sum(-1) >= 2) & (np.nanmax(flat, -1) > np.nanmin(flat, -1))
    if not keep.any():
        raise ValueError("no training sample has two distinct finite values")
    return (np.where(finite, samples, 0)[keep].astype(np.float32),
            finite[keep].astype(np.float32))


def affine_mixes(values: torch.Tensor, weights: torch.Tensor, idx: torch.Tensor,
                 spread: float, rng: np.random.Generator,
                 renormalise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``idx`` moved along differences of others: ``x_i + a (x_j - x_k)``, renormalised.

    ``a`` is uniform in +-``spread`` and (j, k) a random pair per sample. A few hundred fields
    pin a meta-learned network to themselves; these mixes ask it to represent their affine span,
    which is where unseen fields of the same kind (a later, warmer climate) mostly lie. A point
    "don't care" in any of the three is "don't care" in the mix. Each mix is normalised as a
    chunk; with ``renormalise=False`` (patches normalised as parts of their chunks) it is given
    the mean and spread of ``x_i`` instead, so it keeps that patch's place in its chunk.
    """
    n = len(idx)
    j, k = (torch.from_numpy(rng.integers(0, len(values), n)).to(values.device) for _ in "jk")
    a = torch.from_numpy(rng.uniform(-spread, spread, (n, 1)).astype(np.float32)).to(values.device)
    mixed = (values[idx] + a * (values[j] - values[k])).cpu().numpy()
    mixed[(weights[idx] * weights[j] * weights[k]).cpu().numpy() == 0] = np.nan
    if not renormalise:
        base = values[idx].cpu().numpy()
        base[np.isnan(mixed)] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN mixes are dropped below
            spread_of = np.nanstd(mixed, -1, keepdims=True)
            mixed = (np.nanmean(base, -1, keepdims=True) + (mixed - np.nanmean(mixed, -1, keepdims=True))
                     * np.nanstd(base, -1, keepdims=True) / np.where(spread_of > 0, spread_of, np.inf))
        return tuple(torch.from_numpy(x).to(values.device) for x in as_normalised(mixed))
    return tuple(torch.from_numpy(x).to(values.device) for x in normalised_samples(mixed))


def psnr_of(net, step_sizes, coords, values, weights, steps) -> float:
    """PSNR (dB) of the unquantized fit on normalised samples, over their joint range."""
    latents = fit_in_batches(net, step_sizes, coords, values, weights, steps)
    with torch.no_grad():
        mse = (masked_mse(net(coords, latents), values, weights) * weights.sum(-1)).sum() / weights.sum()
    finite = values[weights > 0]
    return psnr_db(float(finite.max() - finite.min()), float(mse.sqrt()))


def meta_train(samples: np.ndarray, recipe: Recipe = BUNDLED, *,
               val_samples: np.ndarray | None = None, val_every: int = 500, device: str = "auto",
               progress: bool = True, card: dict | None = None, init: Model | None = None,
               checkpoint: str | Path | None = None, checkpoint_every: float = 300.0,
               stats_samples: int = STATS_SAMPLES, linearise: bool = True, normalise: bool = True,
               **changes) -> Model:
    """Meta-learn a model on ``samples`` of shape (n, *patch_shape); NaNs are "don't care".

    ``recipe`` says how (``inrcodec.recipe.Recipe``; by default the bundled model's run), and
    keywords ``changes`` replace single fields of it: ``meta_train(x, lr=3e-3, max_steps=100)``.
    The model's card records the recipe whole. What the fields do:
    ``quantization_bits`` trains with uniform noise of that latent quantizer's step added to the
    fitted latents (quantization-aware training), so the network learns to tolerate the rounding
    it will meet in the bitstream. With ``gate_penalty=(low, high)`` the inner loop fits L0 gates
    on the latents too (for the size-budget mode), each sample with its own penalty on the
    fraction of open gates, drawn log-uniformly from that range so the model learns to drop
    latents at every rate; the gates' start and steps are meta-learned. ``latent_basis`` fits
    the basis the latents are quantized in (nn/basis.py; models with gates never have one): on
    A1B it saved a third of the latents' bits at equal quality, on the MNI brain it lost 0.1 dB,
    so measure. ``mix`` trains on affine mixes of the samples (``affine_mixes``, ``a`` within
    +-``mix``) in place of the samples themselves: on A1B (fit on years 0-143 for 15 minutes) a
    spread of 3 took the unseen years 144-191 from 42.8 to 44.8 dB (pipelines/choose_mix.py).

    ``init`` continues training an existing model (its architecture wins over the recipe's);
    the learning rate schedule starts afresh. With ``checkpoint``, a model that ``init`` can
    continue is saved there every ``checkpoint_every`` seconds, so an interrupted run loses at
    most that much. ``val_samples`` are scored (unquantized PSNR) every ``val_every`` steps into
    the card's validation curve. The quantizer's statistics come from ``stats_samples`` samples
    at most, after the outer loop. ``linearise=False`` takes the first inner step by autograd
    too (``fit_latents``), to measure what its matrix product saves. ``normalise=False`` takes
    samples already normalised (patches of chunks the codec's way, each chunk as a whole, NaN
    where nothing counts: ``data.codec_patches``), as the universal models train
    (pipelines/train_universal.py); a mix of them keeps the mean and spread of the patch it
    moves (``affine_mixes``).
    """
    recipe = dataclasses.replace(recipe, **changes)  # a recipe refuses bad values itself
    samples = _checked_samples(samples)
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    dev = pick_device(device)
    patch_shape = tuple(samples.shape[1:])
    prepare = normalised_samples if normalise else as_normalised
    values, weights = _flat_tensors(prepare(samples), dev)
    coords = grid(patch_shape).to(dev)
    learned = _starting_point(recipe, init, patch_shape, dev)
    opt = _optimiser(learned, recipe.lr)
    val = None if val_samples is None else _flat_tensors(prepare(val_samples), dev)

    run = _Run.continuing(init)
    bar = tqdm(total=recipe.max_steps, disable=not progress, desc="meta-training")
    latent_std = None  # quantization-aware training's running estimate of the latents' spread
    while run.has_time_left(recipe):
        _set_learning_rate(opt, run.fraction_done(recipe))
        v, w = _draw_batch(values, weights, recipe, rng, normalise)
        latents, rate = _inner_loop(learned, coords, v, w, recipe, linearise)
        if recipe.quantization_bits:
            latents, latent_std = _with_quantization_noise(latents, latent_std, recipe.quantization_bits)
        _outer_step(opt, masked_mse(learned.net(coords, latents), v, w).mean() + rate)
        run.step += 1
        bar.update()
        if checkpoint is not None and run.checkpoint_due(checkpoint_every):
            _save_checkpoint(checkpoint, learned, patch_shape, latents, recipe, run)
        if val is not None and run.step % val_every == 0:
            val_psnr = _validate(learned, coords, val, recipe.inner_steps, run)
            bar.set_postfix(val_psnr=f"{val_psnr:.2f} dB")
    bar.close()

    statistics = _quantizer_statistics(learned, coords, values, weights, rng, stats_samples, recipe)
    return Model(learned.net, learned.step_sizes.detach().cpu(), patch_shape,
                 card=_final_card(card, recipe, run, len(values), dev),
                 **statistics, **_gate_tensors(learned.gate_params))


@dataclasses.dataclass
class _Learned:
    """What the outer loop learns: the shared network (the latent-to-shift map included), the
    Meta-SGD step per latent dimension and, with gates, where they start and their log steps."""
    net: ModulatedSiren
    step_sizes: torch.Tensor
    gate_params: list[torch.Tensor]  # [gate_init, log_gate_steps], or empty without gates


@dataclasses.dataclass
class _Run:
    """The outer loop's count and clock, carried on from the model it continues (``init``) so
    that a card adds up the whole training; and the validation curve so far."""
    steps_before: int
    seconds_before: float
    history: list[dict]
    start: float  # time.monotonic() when this run's outer loop began
    saved: float  # ... and when it last saved a checkpoint
    step: int = 0  # outer steps of this run

    @classmethod
    def continuing(cls, init: Model | None) -> "_Run":
        earlier = init.card.get("training", {}) if init is not None else {}
        history = list(init.card.get("validation", [])) if init is not None else []
        start = time.monotonic()
        return cls(earlier.get("outer_steps", 0), earlier.get("seconds", 0.0), history, start, start)

    def has_time_left(self, recipe: Recipe) -> bool:
        """Whether neither ``max_steps`` nor the time budget is used up."""
        return (recipe.max_steps is None or self.step < recipe.max_steps) and (
            recipe.time_budget is None or time.monotonic() - self.start < recipe.time_budget)

    def fraction_done(self, recipe: Recipe) -> float:
        """How far along the run is, by steps or by time, whichever is further."""
        # The first step runs at the full rate whatever the clock says: a run by steps stays
        # reproducible (the same model, the same hash) however fast the machine is.
        elapsed = time.monotonic() - self.start if self.step else 0.0
        return max(self.step / recipe.max_steps if recipe.max_steps else 0.0,
                   elapsed / recipe.time_budget if recipe.time_budget else 0.0)

    def checkpoint_due(self, every: float) -> bool:
        return time.monotonic() - self.saved >= every

    def outer_steps(self) -> int:
        """Outer steps in all, this run's and those of the model it continues."""
        return self.steps_before + self.step

    def seconds(self) -> float:
        """Seconds of training in all, to a tenth, as cards record them."""
        return round(self.seconds_before + time.monotonic() - self.start, 1)

    def training_record(self) -> dict:
        """A card's ``training``: outer steps and seconds in all."""
        return {"outer_steps": self.outer_steps(), "seconds": self.seconds()}


def _checked_samples(samples) -> np.ndarray:
    """``samples`` as an array, refused unless real numbers shaped (n, *patch_shape)."""
    samples = np.asarray(samples)
    if samples.dtype.kind not in "fiu":
        raise TypeError(f"training samples must be real numbers, not {samples.dtype}")
    if not 2 <= samples.ndim <= 5:
        raise ValueError(f"training samples must be shaped (n, *patch_shape) with 1 to 4 patch "
                         f"dimensions, not {samples.shape}")
    return samples


def _flat_tensors(arrays: tuple[np.ndarray, ...], dev: torch.device) -> list[torch.Tensor]:
    """Normalised samples' arrays (values, weights) as tensors on ``dev``, a row per sample."""
    return [torch.from_numpy(a).flatten(1).to(dev) for a in arrays]


def _starting_point(recipe: Recipe, init: Model | None, patch_shape: tuple[int, ...],
                    dev: torch.device) -> _Learned:
    """What the outer loop starts from: ``init``'s network and steps (its architecture wins
    over the recipe's) or the recipe's fresh ones; gates only where the recipe asks for them."""
    if init is not None:
        if init.patch_shape != patch_shape:
            raise ValueError(f"cannot continue a model of {init.patch_shape} patches on "
                             f"samples of {patch_shape}")
        net = ModulatedSiren(**init.net.architecture())
        net.load_state_dict(init.net.state_dict())
        net = net.to(dev).train().requires_grad_(True)
        step_sizes = init.step_sizes.clone().to(dev).requires_grad_(True)
    else:
        net = ModulatedSiren(len(patch_shape), recipe.width, recipe.depth, recipe.latent_dim,
                             recipe.w0).to(dev)
        step_sizes = torch.full((recipe.latent_dim,), recipe.step_size_init, device=dev,
                                requires_grad=True)
    gate_params = [] if recipe.gate_penalty is None else _starting_gates(init, net.latent_dim, dev)
    return _Learned(net, step_sizes, gate_params)


def _starting_gates(init: Model | None, latent_dim: int, dev: torch.device) -> list[torch.Tensor]:
    """[gate_init, log_gate_steps]: ``init``'s where it has gates, fresh ones otherwise."""
    gated_init = init is not None and init.gated
    gate_init = (init.gate_init.clone() if gated_init
                 else torch.full((latent_dim,), 1.0)).to(dev).requires_grad_(True)
    # Log-parameterised: the gates' gradients are tiny, their steps must grow a lot.
    log_gate_steps = (init.gate_steps.log() if gated_init
                      else torch.full((latent_dim,), math.log(1e4))).to(dev).requires_grad_(True)
    return [gate_init, log_gate_steps]


def _optimiser(learned: _Learned, lr: float) -> torch.optim.Adam:
    """Adam on everything learned; each group's ``base_lr`` is where its cosine decay starts."""
    # The gates start untrained even when the network does not: they learn 30x faster.
    return torch.optim.Adam([{"params": [*learned.net.parameters(), learned.step_sizes], "base_lr": lr},
                             {"params": learned.gate_params, "base_lr": 30 * lr}], lr=lr)


def _set_learning_rate(opt: torch.optim.Optimizer, done: float) -> None:
    """Cosine decay from each group's ``base_lr`` at ``done`` 0 to nothing at 1 and beyond."""
    for group in opt.param_groups:
        group["lr"] = group["base_lr"] * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))


def _draw_batch(values: torch.Tensor, weights: torch.Tensor, recipe: Recipe, rng: np.random.Generator,
                normalise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of (values, weights): ``batch_size`` samples drawn with replacement or, with
    ``mix``, affine mixes of them (renormalised unless the samples came normalised)."""
    idx = torch.from_numpy(rng.integers(0, len(values), recipe.batch_size)).to(values.device)
    if recipe.mix:
        try:  # mixes whose masks leave under two values are dropped: a batch may come out short
            return affine_mixes(values, weights, idx, recipe.mix, rng, renormalise=normalise)
        except ValueError:  # every mix fell where the three samples' masks do not overlap
            pass
    return values[idx], weights[idx]


def _inner_loop(learned: _Learned, coords: torch.Tensor, v: torch.Tensor, w: torch.Tensor,
                recipe: Recipe, linearise: bool) -> tuple[torch.Tensor, torch.Tensor | float]:
    """The batch's latents, fitted from zero (the graph kept unless ``first_order``), and the
    rate penalty their gates add to the loss (0 without gates)."""
    net, step_sizes = learned.net, learned.step_sizes
    if not learned.gate_params:
        latents = fit_latents(net, coords, v, w, step_sizes, recipe.inner_steps,
                              create_graph=not recipe.first_order, linearise=linearise)
        return latents, 0.0
    gate_init, log_gate_steps = learned.gate_params
    # Each sample its own penalty, log-uniform in the range: the model learns every rate.
    low, high = (math.log(p) for p in recipe.gate_penalty)
    penalty = torch.exp(low + (high - low) * torch.rand(len(v), device=coords.device))
    latents, log_alpha = fit_gated_latents(
        net, coords, v, w, step_sizes, gate_init, log_gate_steps.exp(), recipe.inner_steps,
        penalty, create_graph=not recipe.first_order)
    rate = (penalty * gates.open_probability(log_alpha).mean(-1)).mean()
    return latents * gates.sample(log_alpha), rate


def _with_quantization_noise(latents: torch.Tensor, latent_std: torch.Tensor | None,
                             bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``latents`` plus uniform noise of the step of a ``bits``-bit latent quantizer, so the
    network learns to tolerate the rounding; and the running spread that step comes from."""
    spread = latents.detach().std(0)  # a running estimate of the quantizer's statistics
    latent_std = spread if latent_std is None else 0.99 * latent_std + 0.01 * spread
    step_size = 8 * latent_std.max() / 2 ** bits
    return latents + (torch.rand_like(latents) - 0.5) * step_size, latent_std


def _outer_step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One step of the optimiser on ``loss``, differentiating through the inner loop."""
    opt.zero_grad()
    loss.backward()
    opt.step()


def _save_checkpoint(path: str | Path, learned: _Learned, patch_shape: tuple[int, ...],
                     latents: torch.Tensor, recipe: Recipe, run: _Run) -> None:
    """Saves a model that ``init`` can continue and notes when, for the next checkpoint."""
    # The last batch's latents stand in for the quantizer's statistics: continuing refits them.
    card = {"recipe": recipe.as_card(), "training": run.training_record(), "validation": run.history}
    Model(copy.deepcopy(learned.net).cpu(), learned.step_sizes.detach().cpu(), patch_shape,
          latents.detach().mean(0).cpu().numpy(), latents.detach().std(0).cpu().numpy(),
          card, **_gate_tensors(learned.gate_params)).save(path)
    run.saved = time.monotonic()


def _validate(learned: _Learned, coords: torch.Tensor, val: list[torch.Tensor], inner_steps: int,
              run: _Run) -> float:
    """The unquantized PSNR (dB) of the validation samples, added to the run's curve."""
    val_psnr = psnr_of(learned.net, learned.step_sizes.detach(), coords, *val, inner_steps)
    run.history.append({"step": run.outer_steps(), "seconds": run.seconds(), "val_psnr": round(val_psnr, 3)})
    return val_psnr


def _quantizer_statistics(learned: _Learned, coords: torch.Tensor, values: torch.Tensor,
                          weights: torch.Tensor, rng: np.random.Generator, stats_samples: int,
                          recipe: Recipe) -> dict:
    """``latent_statistics`` of at most ``stats_samples`` training samples, the network (moved to
    the CPU, as the model keeps it) in eval mode; a latent basis only for models without gates."""
    learned.net.eval()
    some = torch.from_numpy(rng.permutation(len(values))[:stats_samples]).to(values.device)
    return latent_statistics(learned.net.cpu(), learned.step_sizes.detach().cpu(), coords.cpu(),
                             values[some].cpu(), weights[some].cpu(), recipe.inner_steps,
                             with_basis=recipe.latent_basis and not learned.gate_params)


def _final_card(card: dict | None, recipe: Recipe, run: _Run, n_samples: int, dev: torch.device) -> dict:
    """The caller's ``card`` with the recipe, the training in all and the validation curve."""
    card = dict(card or {})
    card.update({"recipe": recipe.as_card(),
                 "training": {**run.training_record(), "samples": int(n_samples), "device": str(dev)},
                 "validation": run.history})
    return card


def latent_statistics(net, step_sizes, coords, values, weights, inner_steps: int,
                      with_basis: bool) -> dict:
    """The quantizer's statistics (a Model's ``latent_mean``, ``latent_std`` and, with
    ``with_basis``, ``latent_basis``) from the latents fitted to normalised samples: a few
    thousand samples pin down a mean and a spread."""
    latents = fit_in_batches(net, step_sizes, coords, values, weights, inner_steps)
    if not with_basis:
        return dict(latent_mean=latents.mean(0).numpy(), latent_std=latents.std(0).numpy())
    mean, basis, std = fit_basis(net, coords, latents, weights)
    return dict(latent_mean=mean, latent_std=std, latent_basis=torch.from_numpy(basis))


def _gate_tensors(gate_params: list[torch.Tensor]) -> dict:
    """A Model's gate_init and gate_steps, or nothing when training without gates."""
    if not gate_params:
        return {}
    gate_init, log_gate_steps = gate_params
    return dict(gate_init=gate_init.detach().cpu(), gate_steps=log_gate_steps.detach().exp().cpu())
