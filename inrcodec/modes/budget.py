"""Size-budget mode: which latents to keep, and how finely, so a chunk fits in a given size.

Two knobs set a chunk's size. The latents' resolution moves in sixteenths of a bit: the finest
at which every latent's real range-coded bytes still fit the budget is always a candidate (and
the only one for a model with a latent basis, whose coefficients are not dropped).
Hard-concrete L0 gates (nn/gates.py) drop latents: with a model meta-learned with gates in its
inner loop, the budget is stated as a constraint, "expected coded bits <= budget", at a finer
resolution than all latents could afford, and solved as a Lagrangian min-max with cooper
(L0onie): Adam lowers the reconstruction error over latents and gate log-odds, gradient ascent
raises the multiplier while the true bit count of the current hard gates (ideal code lengths of
the range coder's own tables) exceeds the budget. A greedy finish closes the least likely gates
until the real bytes fit. The candidate that reconstructs the chunk best is kept; no candidate
ever exceeds the budget.
"""

import warnings

import cooper
import numpy as np
import torch

from ..chunk import Chunk
from ..coding.container import Container, Kind
from ..coding.entropy import (
    RATE_WEIGHT,
    code_lengths,
    encode_gated,
    encode_symbols,
    estimated_code_bits,
    gate_flag_bits,
    rate_distortion_symbols,
)
from ..coding.quantize import FRACTIONS, MAX_BITS, MIN_BITS, LatentQuantizer
from ..model import Model
from ..nn import gates
from ..nn.coords import grid
from ..nn.fit import fit_gated_latents, fit_in_batches, masked_mse
from ..sections.network import fit, latent_fields
from .base import Mode, positive

SOLVE_STEPS = 50  # 100 chose the same chunks' bytes on A1B
GATE_START = 3.0  # gate log-odds (deterministic gate 1) for a model trained without gates
LATENT_LR, GATE_LR, MULTIPLIER_LR = 0.05, 0.2, 20.0
# A linear model's latents may be dropped too (gated): on held-out A1B, which it knows, rounding
# alone matched that at every budget, but on fields it does not know dropping pays (GloSea4's
# test chunks at 0.1-0.4 bits a value: up to 0.87 dB; OSTIA's fit a budget only so).
# docs/budget.md measures both; False leaves the gated candidates out.
LINEAR_GATES = True
GATE_DOUBLINGS, GATE_HALVINGS = 40, 12  # the multiplier's search: up from RATE_WEIGHT, then back
_LEVELS = [(bits, f) for bits in range(MIN_BITS, MAX_BITS + 1) for f in range(FRACTIONS)]


class BudgetError(ValueError):
    """A budget that no encoding of the chunk can meet."""


class Budget(Mode):
    """Every chunk at most ``bits_per_value`` bits per value, its header, mask and checksum
    included; the latents' resolution (and, for a gated model, which latents) chosen per chunk."""

    sized = True

    def __init__(self, bits_per_value: float):
        self.bits_per_value = positive("bits_per_value", bits_per_value)

    def settings(self) -> dict:
        return {"bits_per_value": self.bits_per_value}

    @property
    def promise(self) -> str:
        return (f"every chunk at most {self.bits_per_value:g} bits per value, all its bytes "
                "included, but for a chunk whose header and NaN mask leave nothing for its data "
                "(stored at the coarsest latents, with a BudgetWarning); no bound on the error")

    @property
    def label(self) -> str:
        return f"<={self.bits_per_value:g} b/v"

    def measure(self, original, decoded, stored_bytes, chunk_values):
        bits = 8 * stored_bytes / max(chunk_values, 1)
        return bits, bool(8 * stored_bytes <= self.bits_per_value * chunk_values)

    def describe(self, worst: float) -> str:
        return f"max chunk {worst:.3f} bits/value"

    def encode(self, chunk: Chunk, model: Model, inner_steps: int) -> Container:
        budget_bytes = int(chunk.array.size * self.bits_per_value // 8)
        fields = dict(normalisation=chunk.norm, **chunk.header)
        overhead = len(Container(kind=Kind.LATENTS, latent_bits=MAX_BITS, **fields).to_bytes(model.hash))
        target, weight = chunk.patches(model.patch_shape)
        try:
            if budget_bytes - overhead < 1:
                raise BudgetError("nothing is left for the data")
            quantizer, payload, gated = fit_to_budget(
                model, grid(model.patch_shape), target, weight, inner_steps, budget_bytes - overhead,
                model.positions(chunk.array.shape) if model.linear else None)
        except BudgetError:
            return self._over_budget(chunk, model, inner_steps, budget_bytes, overhead)
        return Container(kind=Kind.LATENTS, gated=gated, latent_bits=quantizer.bits,
                         latent_fraction=quantizer.fraction, latents=payload, **fields)

    def _over_budget(self, chunk: Chunk, model: Model, inner_steps: int, budget_bytes: int,
                     overhead: int) -> Container:
        """A chunk no encoding fits: its coarsest latents, and a warning about the data. Failing
        instead would end a whole archive's run on one chunk with too many NaNs."""
        quantizer = model.quantizer(MIN_BITS)
        symbols = rate_distortion_symbols(fit(chunk, model, inner_steps, quantizer), quantizer)
        container = Container(kind=Kind.LATENTS, **latent_fields(chunk, quantizer, symbols))
        nans = 1 - chunk.finite.mean()
        warnings.warn(BudgetWarning(
            f"a chunk of shape {chunk.array.shape} ({nans:.0%} NaN) cannot be stored in its budget "
            f"of {budget_bytes} bytes ({self.bits_per_value:g} bits per value): its header and "
            f"NaN mask take {overhead}; stored at the coarsest latents in "
            f"{len(container.to_bytes(model.hash))} bytes. Give a larger budget or larger chunks"),
            stacklevel=2)
        return container


class BudgetWarning(UserWarning):
    """A chunk stored over its size budget, because nothing fits in it."""


class _RateConstraint(cooper.ConstrainedMinimizationProblem):
    """min error(latents * gates) s.t. coded bits <= budget (both as relative numbers)."""

    def __init__(self, error, expected_bits, true_bits):
        super().__init__()
        self.error, self.expected_bits, self.true_bits = error, expected_bits, true_bits
        self.rate = cooper.Constraint(cooper.ConstraintType.INEQUALITY,
                                      multiplier=cooper.multipliers.DenseMultiplier(num_constraints=1))

    def compute_cmp_state(self) -> cooper.CMPState:
        # The differentiable expected rate moves the primal variables; the true bit count of
        # the current hard gates moves the multiplier (a proxy constraint).
        rate = cooper.ConstraintState(violation=self.expected_bits().reshape(1),
                                      strict_violation=self.true_bits().reshape(1))
        return cooper.CMPState(loss=self.error(), observed_constraints={self.rate: rate})


def fit_to_budget(model: Model, coords: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                  inner_steps: int, payload_bytes: int, positions: np.ndarray | None = None
                  ) -> tuple[LatentQuantizer, bytes, bool]:
    """The latent quantizer chosen, the coded latents (at most ``payload_bytes`` long), and
    whether they are gated (coded with which latents each patch kept). ``positions``: a linear
    model's patch positions (``LinearModel.positions``), where it has parts for them."""
    generator = torch.Generator().manual_seed(0)  # the same chunk always gives the same bytes
    if model.linear:  # its projection is the fit; the gates start open, as for a plain SIREN
        latents = torch.from_numpy(model.project(target.numpy(), weight.numpy(), positions)).float()
        log_alpha = torch.full_like(latents, GATE_START)
        kept = np.ones(latents.shape, bool)
    elif model.gated:
        latents, log_alpha = fit_gated_latents(model.net, coords, target, weight, model.step_sizes,
                                               model.gate_init, model.gate_steps, inner_steps,
                                               generator=generator)
        kept = (gates.deterministic(log_alpha) > 0).numpy()
        latents = latents * gates.deterministic(log_alpha)
    else:
        latents = fit_in_batches(model.net, model.step_sizes, coords, target, weight, inner_steps,
                                 linearisation=model.linearisation)
        log_alpha = torch.full_like(latents, GATE_START)
        kept = np.ones(latents.shape, bool)
    level = _finest_fitting(model, latents.numpy(), kept, payload_bytes)
    candidates = []
    if level is not None:
        quantizer = _quantizer(model, level)
        symbols = np.where(kept, rate_distortion_symbols(latents.numpy(), quantizer), 0)
        candidates.append((quantizer, _code(model, symbols, kept, quantizer), symbols, kept,
                           _gated(model, kept)))
    if model.linear and LINEAR_GATES:  # at the same resolution, and half a bit finer
        for at in [0] if level is None else [level, level + FRACTIONS // 2]:
            if at < len(_LEVELS):
                candidates.append(_gated_by_rounding(latents.numpy(), _quantizer(model, at),
                                                     payload_bytes))
    # Half a bit finer than all latents afford: the gates must drop some to pay for it.
    solve_at = ([0] if level is None else [level + FRACTIONS // 2]) if model.gated else []
    for finer in solve_at if model.latent_basis is None else []:
        if finer < len(_LEVELS):
            quantizer = _quantizer(model, finer)
            solved = _solve(model, coords, target, weight, latents, log_alpha, quantizer,
                            8.0 * payload_bytes, generator)
            candidates.append(_finish(*solved, quantizer, payload_bytes))
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        raise BudgetError(f"{payload_bytes} bytes cannot say even that this chunk's "
                          f"{len(target)} patches dropped every latent: give a larger budget")
    errors = [_error(model, coords, target, weight, *c, positions=positions) for c in candidates]
    quantizer, payload, _, _, gated = candidates[int(np.argmin(errors))]
    return quantizer, payload, gated


def _gated_by_rounding(latents: np.ndarray, quantizer: LatentQuantizer,
                       payload_bytes: int) -> tuple | None:
    """(quantizer, payload, symbols, kept, gated=True): each coefficient of a linear model's
    ``latents`` rounded down, rounded up or dropped, whichever adds the least squared error (in
    quantizer steps: its basis is orthonormal) plus a multiplier times its code length; the
    multiplier raised from RATE_WEIGHT until the real gated bytes fit, then lowered back by
    bisection; None where even dropping almost every latent does not fit.

    The rate-constrained problem the seeds' L0 gates pose (nn/gates.py, ``_solve``) is, for an
    orthonormal basis, separable coefficient by coefficient: its Lagrangian is minimised in
    closed form at each multiplier, so the multiplier is found by bisection, where cooper's
    gradient ascent would take 50 steps of the whole model. Against that solve, on 6-8 test
    chunks each of GloSea4, OSTIA, hybrid height and A1B at 0.1-0.5 bits a value, it stored as
    well or better (0.5 dB better on GloSea4 at 0.2), 3-10x faster, before it replaced it;
    docs/budget.md measures it against rounding alone."""
    lengths = code_lengths(quantizer)
    x = quantizer.coefficients(latents) / quantizer.step
    low = np.floor(x)
    candidates = np.clip(np.stack([low, low + 1]), quantizer.low,
                         quantizer.low + quantizer.alphabet_size - 1).astype(np.int64)
    bits = lengths[np.arange(x.shape[1]), candidates - quantizer.low]
    error = (x - candidates) ** 2

    def coded(multiplier: float) -> tuple:
        cost = error + multiplier * bits
        choice = cost.argmin(0)[None]
        kept = np.take_along_axis(cost, choice, 0)[0] < x ** 2  # dropped: its square, no bits
        symbols = np.where(kept, np.take_along_axis(candidates, choice, 0)[0], 0).astype(np.int32)
        return quantizer, encode_gated(symbols, kept, quantizer), symbols, kept, True

    multiplier = RATE_WEIGHT
    for _ in range(GATE_DOUBLINGS):
        if len((found := coded(multiplier))[1]) <= payload_bytes:
            break
        multiplier *= 2
    else:
        return None
    low_multiplier = multiplier / 2
    for _ in range(GATE_HALVINGS if multiplier > RATE_WEIGHT else 0):
        middle = (low_multiplier * multiplier) ** 0.5
        if len((trial := coded(middle))[1]) <= payload_bytes:
            multiplier, found = middle, trial
        else:
            low_multiplier = middle
    return found


def _gated(model: Model, kept: np.ndarray) -> bool:
    """Whether latents are coded with which ones each patch kept: needless when all are."""
    return model.gated or not kept.all()


def _code(model: Model, symbols: np.ndarray, kept: np.ndarray, quantizer: LatentQuantizer) -> bytes:
    if _gated(model, kept):
        return encode_gated(symbols, kept, quantizer)
    return encode_symbols(symbols, quantizer)


def _quantizer(model: Model, level: int) -> LatentQuantizer:
    return model.quantizer(*_LEVELS[level])


def _finest_fitting(model: Model, latents: np.ndarray, kept: np.ndarray,
                    payload_bytes: int) -> int | None:
    """The finest resolution level at which the kept latents' real bytes fit, or None if not
    even the coarsest does. Latents coded plainly: the finest level whose estimated bits
    (``entropy.estimated_code_bits``, no table built) fit is bisected (they grow with the
    resolution), and the real bytes tried from there, up while they fit, else down: a level's
    tables take tens of milliseconds at 11-12 bits, and bisecting the real bytes built about
    15 of them a chunk. Gated latents: the real bytes bisected, and up to 8 finer levels tried
    (rounding makes their size grow unevenly)."""
    def fits(level):
        quantizer = _quantizer(model, level)
        symbols = np.where(kept, rate_distortion_symbols(latents, quantizer), 0)
        return len(_code(model, symbols, kept, quantizer)) <= payload_bytes

    if _gated(model, kept):
        level = _finest(fits)
        finer = [] if level is None else \
            [f for f in range(level + 1, min(level + 9, len(_LEVELS))) if fits(f)]
        return max(finer, default=level)
    level = _finest(lambda level: estimated_code_bits(latents, _quantizer(model, level))
                    <= 8 * payload_bytes) or 0
    if fits(level):  # (a cut stream may end a little under the estimate)
        while level + 1 < len(_LEVELS) and fits(level + 1):
            level += 1
        return level
    while level > 0:
        level -= 1
        if fits(level):
            return level
    return None


def _finest(fits) -> int | None:
    """The finest level that ``fits``, as the size grows with the resolution (bisection);
    None if not even the coarsest does."""
    if not fits(0):
        return None
    low, high = 0, len(_LEVELS) - 1
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def _error(model, coords, target, weight, quantizer, payload, symbols, kept, gated,
           positions: np.ndarray | None = None) -> float:
    latents = np.where(kept, quantizer.dequantize(symbols), np.float32(0))
    with torch.no_grad():
        return float(masked_mse(_evaluate(model, coords, torch.from_numpy(latents), positions),
                                target, weight).sum())


def _evaluate(model, coords: torch.Tensor, latents: torch.Tensor,
              positions: np.ndarray | None = None) -> torch.Tensor:
    """The model's normalised values (patches, points) of ``latents``, differentiably (but
    for a linear model's positional parts, which only the linear family's rounding reaches)."""
    if positions is not None:
        return torch.from_numpy(model.reconstruct(latents.double().numpy(), positions)).to(latents.dtype)
    if model.linear:
        basis = torch.from_numpy(model.basis).to(latents.dtype)
        return torch.from_numpy(model.mean).to(latents.dtype) + latents @ basis
    return model.net(coords, latents)


def _bits(symbols: np.ndarray, kept: np.ndarray, lengths: np.ndarray,
          quantizer: LatentQuantizer) -> np.ndarray:
    """Ideal coded bits of each patch (what encode_gated spends, to within a few bits)."""
    values = np.take_along_axis(lengths[None], (symbols - quantizer.low)[..., None], 2)[..., 0]
    return (values * kept).sum(1) + gate_flag_bits(kept.sum(1), kept.shape[1])


def _solve(model, coords, target, weight, latents, log_alpha, quantizer, budget,
           generator) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = code_lengths(quantizer)
    scale = torch.from_numpy(np.maximum(model.latent_std, 1e-6))
    units = (latents / scale).requires_grad_(True)  # latents in units of their spread
    log_alpha = log_alpha.clone().requires_grad_(True)
    with torch.no_grad():
        reference = masked_mse(_evaluate(model, coords, latents), target, weight).sum().clamp_min(1e-12)
    dim = latents.shape[1]

    def error():
        gated = units * scale * gates.sample(log_alpha, generator)
        return masked_mse(_evaluate(model, coords, gated), target, weight).sum() / reference

    def symbols_and_kept():
        with torch.no_grad():
            value = (units * scale * gates.deterministic(log_alpha)).numpy()
            return quantizer.quantize(value), gates.deterministic(log_alpha).numpy() > 0

    def expected_bits():
        symbols, _ = symbols_and_kept()
        cost = torch.from_numpy(np.take_along_axis(
            lengths[None], (symbols - quantizer.low)[..., None], 2)[..., 0]).float()
        p_open = gates.open_probability(log_alpha)
        share = p_open.mean(1).clamp(1e-6, 1 - 1e-6)
        flags = -dim * (share * torch.log2(share) + (1 - share) * torch.log2(1 - share))
        return ((p_open * cost).sum() + flags.sum()) / budget - 1

    def true_bits():
        symbols, kept = symbols_and_kept()
        return torch.tensor(_bits(symbols, kept, lengths, quantizer).sum() / budget - 1)

    problem = _RateConstraint(error, expected_bits, true_bits)
    optimizer = cooper.optim.SimultaneousOptimizer(
        cmp=problem,
        primal_optimizers=torch.optim.Adam([{"params": [units], "lr": LATENT_LR},
                                            {"params": [log_alpha], "lr": GATE_LR}]),
        dual_optimizers=torch.optim.SGD(problem.dual_parameters(), lr=MULTIPLIER_LR, maximize=True))
    for _ in range(SOLVE_STEPS):
        optimizer.roll()
    return (units * scale).detach(), log_alpha.detach()


def _finish(latents, log_alpha, quantizer, payload_bytes) -> tuple | None:
    """(quantizer, payload, symbols, kept, gated=True) with the solved gates, the least likely open ones
    closed until the real bytes fit; None if no choice of gates fits."""
    lengths = code_lengths(quantizer)
    gate = gates.deterministic(log_alpha).numpy()
    kept = gate > 0
    symbols = quantizer.quantize(latents.numpy() * gate)
    per_patch = _bits(symbols, kept, lengths, quantizer)
    order = np.argsort(log_alpha.numpy(), axis=None, kind="stable")  # least likely first
    flat = kept.reshape(-1)
    for slack in (0, 8, 16, 32, 64, 128):  # the coder's bytes run a little over the ideal
        for index in order:
            if per_patch.sum() <= 8.0 * payload_bytes - slack:
                break
            if flat[index]:
                flat[index] = False
                patch = index // kept.shape[1]
                per_patch[patch] = _bits(symbols[patch:patch + 1], kept[patch:patch + 1],
                                         lengths, quantizer)[0]
        payload = encode_gated(np.where(kept, symbols, 0), kept, quantizer)
        if len(payload) <= payload_bytes:
            return quantizer, payload, np.where(kept, symbols, 0), kept, True
    return None
