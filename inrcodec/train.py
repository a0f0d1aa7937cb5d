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
    gate_penalty, mix = recipe.gate_penalty, recipe.mix
    samples = np.asarray(samples)
    if samples.dtype.kind not in "fiu":
        raise TypeError(f"training samples must be real numbers, not {samples.dtype}")
    if not 2 <= samples.ndim <= 5:
        raise ValueError(f"training samples must be shaped (n, *patch_shape) with 1 to 4 patch "
                         f"dimensions, not {samples.shape}")
    max_steps, time_budget = recipe.max_steps, recipe.time_budget
    inner_steps, first_order = recipe.inner_steps, recipe.first_order
    batch_size, lr, seed = recipe.batch_size, recipe.lr, recipe.seed
    quantization_bits = recipe.quantization_bits
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = pick_device(device)
    patch_shape = tuple(samples.shape[1:])
    prepare = normalised_samples if normalise else as_normalised
    values, weights = (torch.from_numpy(a).flatten(1).to(dev) for a in prepare(samples))
    coords = grid(patch_shape).to(dev)
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
    gate_params = []
    if gate_penalty is not None:
        gated_init = init is not None and init.gated
        gate_init = (init.gate_init.clone() if gated_init
                     else torch.full((net.latent_dim,), 1.0)).to(dev).requires_grad_(True)
        # Log-parameterised: the gates' gradients are tiny, their steps must grow a lot.
        log_gate_steps = (init.gate_steps.log() if gated_init
                          else torch.full((net.latent_dim,), math.log(1e4))).to(dev).requires_grad_(True)
        gate_params = [gate_init, log_gate_steps]
        low, high = (math.log(p) for p in gate_penalty)
    # The gates start untrained even when the network does not: they learn 30x faster.
    opt = torch.optim.Adam([{"params": [*net.parameters(), step_sizes], "base_lr": lr},
                            {"params": gate_params, "base_lr": 30 * lr}], lr=lr)
    val = None
    if val_samples is not None:
        val = [torch.from_numpy(a).flatten(1).to(dev) for a in prepare(val_samples)]

    earlier = init.card.get("training", {}) if init is not None else {}
    step0, seconds0 = earlier.get("outer_steps", 0), earlier.get("seconds", 0.0)
    history = list(init.card.get("validation", [])) if init is not None else []
    start, step, latent_std = time.monotonic(), 0, None
    saved = start
    bar = tqdm(total=max_steps, disable=not progress, desc="meta-training")
    while (max_steps is None or step < max_steps) and (
            time_budget is None or time.monotonic() - start < time_budget):
        # Cosine decay over the run (by steps or by time, whichever is further along). The
        # first step runs at the full rate whatever the clock says: a run by steps stays
        # reproducible (the same model, the same hash) however fast the machine is.
        elapsed = time.monotonic() - start if step else 0.0
        done = max(step / max_steps if max_steps else 0.0,
                   elapsed / time_budget if time_budget else 0.0)
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
        idx = torch.from_numpy(rng.integers(0, len(values), batch_size)).to(dev)
        v, w = (affine_mixes(values, weights, idx, mix, rng, renormalise=normalise) if mix
                else (values[idx], weights[idx]))
        if gate_params:
            penalty = torch.exp(low + (high - low) * torch.rand(batch_size, device=dev))
            latents, log_alpha = fit_gated_latents(
                net, coords, v, w, step_sizes, gate_init, log_gate_steps.exp(), inner_steps,
                penalty, create_graph=not first_order)
            rate = (penalty * gates.open_probability(log_alpha).mean(-1)).mean()
            latents = latents * gates.sample(log_alpha)
        else:
            rate = 0.0
            latents = fit_latents(net, coords, v, w, step_sizes, inner_steps,
                                  create_graph=not first_order, linearise=linearise)
        if quantization_bits:
            spread = latents.detach().std(0)  # a running estimate of the quantizer's statistics
            latent_std = spread if latent_std is None else 0.99 * latent_std + 0.01 * spread
            step_size = 8 * latent_std.max() / 2 ** quantization_bits
            latents = latents + (torch.rand_like(latents) - 0.5) * step_size
        loss = masked_mse(net(coords, latents), v, w).mean() + rate
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        bar.update()
        if checkpoint is not None and time.monotonic() - saved >= checkpoint_every:
            progress_card = {"recipe": recipe.as_card(),
                             "training": {"outer_steps": step0 + step,
                                          "seconds": round(seconds0 + time.monotonic() - start, 1)},
                             "validation": history}
            Model(copy.deepcopy(net).cpu(), step_sizes.detach().cpu(), patch_shape,
                  latents.detach().mean(0).cpu().numpy(), latents.detach().std(0).cpu().numpy(),
                  progress_card, **_gate_tensors(gate_params)).save(checkpoint)
            saved = time.monotonic()
        if val is not None and step % val_every == 0:
            val_psnr = psnr_of(net, step_sizes.detach(), coords, *val, inner_steps)
            history.append({"step": step0 + step,
                            "seconds": round(seconds0 + time.monotonic() - start, 1),
                            "val_psnr": round(val_psnr, 3)})
            bar.set_postfix(val_psnr=f"{val_psnr:.2f} dB")
    bar.close()

    net.eval()
    some = torch.from_numpy(rng.permutation(len(values))[:stats_samples]).to(dev)
    statistics = latent_statistics(net.cpu(), step_sizes.detach().cpu(), coords.cpu(),
                                   values[some].cpu(), weights[some].cpu(), inner_steps,
                                   with_basis=recipe.latent_basis and not gate_params)
    card = dict(card or {})
    card.update({"recipe": recipe.as_card(),
                 "training": {"outer_steps": step0 + step,
                              "seconds": round(seconds0 + time.monotonic() - start, 1),
                              "samples": int(len(values)), "device": str(dev)},
                 "validation": history})
    return Model(net, step_sizes.detach().cpu(), patch_shape, card=card,
                 **statistics, **_gate_tensors(gate_params))


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
