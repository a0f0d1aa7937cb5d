"""The network's side of every mode that uses it: fitting a chunk's latents, the Container
fields that carry them, reading them back, and evaluating the network on the chunk's grid.

torch is imported where the network runs, not with this module: the modes import it, and a
reader of chunks that need no network never loads torch (issue 33: a cold read took 1.2-1.7 s).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from ..chunk import Chunk, cast
from ..coding.bytes import ContainerError
from ..coding.container import Container
from ..coding.entropy import decode_gated, decode_symbols, encode_symbols, least_code_bits
from ..coding.normalise import Normalisation
from ..coding.quantize import LatentQuantizer
from ..patches import count_patches, from_patches

if TYPE_CHECKING:
    import torch

PATCH_BATCH = 256  # patches per forward pass at most: bounds memory on large chunks
ACTIVATIONS = 2 ** 26  # and at most this many points x width per pass (512 MiB of float64)
CLIPS = (8.0, 4.0)  # in training spreads: a patch whose coefficients exceed 4 also tries these
# The gate: a chunk of 8 patches or more fits a quarter of them first (4 to 32), and stores
# without the network where they miss by GATE_DB more than the bound allows. On 4 chunks of each
# benchmark dataset (bundled and universal models, the bounds of 30-50 dB floors) spatial
# prediction alone always won where the network's rms error was over 6 dB past the bound's
# (bound / sqrt 3); the network won at up to 6 dB past it (A1B at 50 dB): 4 dB of margin.
GATE_SAMPLE = (4, 32)
GATE_DB = 10.0
# Before that, the cheap gate: each whole patch's least-squares projection onto the network's
# first-order span (the network at a zero latent plus its Jacobian's columns, ``Model.span``),
# one matrix product. On 8 datasets and both bundled 2-D models the 3-step fit's rms error was
# at most 2.8 dB under the projection's (A1B and GloSea4 under universal-2d) and up to 18 dB over
# it (hybrid height, NEMO, GloSea4 under default-2d): where the projection misses the fit's
# gate by PROJECTION_SLACK_DB more, the fit would too, and nothing is fitted. Like that gate, it
# judges only chunks of enough patches for a sample: a single A1B field at 0.1% of its range is
# stored in 24% fewer bits with the network, though its rms error is 18 dB past the bound's
# (docs/bounded.md), and a chunk too small to sample is always fitted.
PROJECTION_SLACK_DB = 6.0
PROJECTED_PATCHES = 256  # an even sample of a chunk's whole patches, at most
# And under a bound that is not loose, the network pays only where it predicts better than the
# interpolation coder: a residual costs about log2(rms / bound) bits a value whichever predicts
# it, and the latents cost more. Where the projection's rms error is SPATIAL_SLACK_DB over the
# rms error of cubic interpolation at the finest level (``cubic_residual_rms``) and the bound is less
# than LOOSE_DB over that, nothing is fitted. On 294 (chunk, model, setting) cases of 8 datasets
# (bounds of 10% to 0.1% of the range, floors of 30 to 50 dB) this skipped 137 fits and no chunk
# the network won: those were 2.5 dB under the interpolation's rms or more, but for two GloSea4
# chunks 12-14 dB over it at bounds 22-24 dB over it (10% of the range), which it fits.
SPATIAL_SLACK_DB = 6.0
LOOSE_DB = 14.0
# A linear model judges a chunk of many patches with missing points on that sample's projection
# first, and gives up there only where the sample misses a gate by this much more than the whole
# chunk must: on the benchmark's test chunks the sample's rms error lay 3.1 dB under to 0.9 dB
# over the whole chunk's (its best-filled patches fit better; docs/encoder.md, which finds the
# same bytes as judging the whole projection in every case).
SAMPLE_MARGIN_DB = 3.0
# A range-coded stream, cut to the byte, may fall this short of its symbols' information (the
# decoder pads a word of zeros); the tables' fixed-point rounding may shave 1% more.
SHORTFALL_BITS, SHORTFALL_SHARE = 64, 0.99


def fit(chunk: Chunk, model, inner_steps: int, quantizer: LatentQuantizer,
        bound: float | None = None) -> np.ndarray | None:
    """Each patch's latents (``fit_patches``). With ``bound`` (the error bound the network's
    prediction would be corrected to, in the chunk's own units), the chunk's whole patches are
    first projected onto the network's first-order span (one matrix product), then a chunk of
    many patches fits an even sample of them; where either shows the network cannot pay
    (``hopeless_rms``, ``cubic_residual_rms``), returns None without fitting the rest: the
    caller stores the chunk without the network, in a fraction of the time."""
    if model.linear:  # (numpy's products: a worker encoding with a linear model never loads torch)
        return _project(chunk, model, bound)
    import torch

    target, weight = chunk.patches(model.patch_shape)
    give_up_above = None if bound is None else hopeless_rms(bound)
    gated = give_up_above is not None and give_up_above < math.inf
    sample = _sample(weight) if gated else None
    if gated and (projected := _projected_rms(model, target, weight)) is not None:
        projected *= chunk.norm.scale
        if sample is not None and projected > give_up_above * 10 ** (PROJECTION_SLACK_DB / 20):
            return None
        spatial = cubic_residual_rms(chunk)
        if projected > spatial * 10 ** (SPATIAL_SLACK_DB / 20) and \
                bound < spatial * 10 ** (LOOSE_DB / 20):
            return None
    if sample is None:
        return fit_patches(target, weight, model, inner_steps, quantizer)
    first = fit_patches(target[sample], weight[sample], model, inner_steps, quantizer)
    if _rms(model, first, target[sample], weight[sample]) * chunk.norm.scale > give_up_above:
        return None
    rest = torch.from_numpy(np.setdiff1d(np.arange(len(target)), sample))
    fitted = np.empty((len(target), first.shape[1]), np.float32)
    fitted[sample], fitted[rest] = first, fit_patches(target[rest], weight[rest], model,
                                                      inner_steps, quantizer)
    return fitted


def _project(chunk: Chunk, model, bound: float | None) -> np.ndarray | None:
    """A linear model's latents: the projection is the fit, judged by the SIREN's gates as
    its projection is (``fit``): the same chunks, the same slack. A chunk of many patches,
    some with missing points, is judged on ``fit``'s sample first, and not projected further
    where the sample misses a gate by SAMPLE_MARGIN_DB more: a coastal chunk's projection,
    patch by patch, costs about as much as coding it without the network (where every patch
    is whole it is one matrix product, and the sample would only add to it)."""
    target, weight = chunk.patch_arrays(model.patch_shape)
    positions = model.positions(chunk.array.shape)  # None but in a learned archive's own chunks
    if bound is None or hopeless_rms(bound) == math.inf:
        return model.project(target, weight, positions)
    spatial = functools.cache(lambda: cubic_residual_rms(chunk))
    sample = _sample_of(weight.sum(-1))
    if sample is not None and weight.min() < 1:
        rms = _projected_rms_of(model, target[sample], weight[sample],
                                positions=None if positions is None else positions[sample])
        if _network_loses(rms * chunk.norm.scale * 10 ** (-SAMPLE_MARGIN_DB / 20), bound, spatial,
                          sampled=True):
            return None
    latents = model.project(target, weight, positions)
    rms = _projected_rms_of(model, target, weight, latents, positions) * chunk.norm.scale
    return None if _network_loses(rms, bound, spatial, sample is not None) else latents


def _projected_rms_of(model, target: np.ndarray, weight: np.ndarray,
                      latents: np.ndarray | None = None,
                      positions: np.ndarray | None = None) -> float:
    """A linear model's rms error over the valid points of these patches (normalised units),
    at their projection (``latents``, made here where not given)."""
    latents = model.project(target, weight, positions) if latents is None else latents
    if positions is None:
        residual = (target - model.mean - latents @ model.basis) * weight
    else:
        residual = (target - model.reconstruct(latents, positions)) * weight
    return math.sqrt(float((residual ** 2).sum() / max(weight.sum(), 1)))


def _network_loses(rms: float, bound: float, spatial, sampled: bool) -> bool:
    """Whether a linear model whose projection misses by ``rms`` (the chunk's units) cannot
    pay under ``bound``: past ``hopeless_rms`` by PROJECTION_SLACK_DB (judged only where the
    chunk has patches enough for a sample), or SPATIAL_SLACK_DB past cubic interpolation's
    rms (``spatial()``) under a bound that is not loose."""
    if sampled and rms > hopeless_rms(bound) * 10 ** (PROJECTION_SLACK_DB / 20):
        return True
    return rms > spatial() * 10 ** (SPATIAL_SLACK_DB / 20) and bound < spatial() * 10 ** (LOOSE_DB / 20)


def hopeless_rms(bound: float) -> float:
    """The rms error, in a sample of a chunk's patches, past which the network's prediction is
    not worth fitting for an error bound of ``bound``: ``GATE_DB`` worse than the rms of a
    uniform quantizer's error at that bound (bound / sqrt 3)."""
    return bound / math.sqrt(3) * 10 ** (GATE_DB / 20)


def _sample(weight: torch.Tensor) -> torch.Tensor | None:
    """An even sample of a chunk's best-filled patches, or None where the chunk has too few
    patches for a sample to save anything."""
    import torch

    sample = _sample_of(weight.sum(-1).numpy())
    return None if sample is None else torch.from_numpy(sample)  # indexes tensors and numpy


def _sample_of(filled: np.ndarray) -> np.ndarray | None:
    """``_sample`` of patches with ``filled`` valid points each."""
    size = min(GATE_SAMPLE[1], max(GATE_SAMPLE[0], len(filled) // 4))
    if len(filled) < 2 * size or not filled.any():
        return None
    candidates = np.flatnonzero(filled >= filled.max() / 2)  # padding and NaN mislead a few steps
    even = np.unique(np.linspace(0, len(candidates) - 1, size).round().astype(int))
    return candidates[even]


def _projected_rms(model, target: torch.Tensor, weight: torch.Tensor) -> float | None:
    """The rms error (normalised units) of an even sample of the chunk's whole patches
    projected onto the network's first-order span, or None where no patch is whole."""
    whole = np.flatnonzero(weight.numpy().min(-1) > 0)
    if not len(whole):
        return None
    whole = whole[np.unique(np.linspace(0, len(whole) - 1, PROJECTED_PATCHES).round().astype(int))]
    start, basis = model.span
    x = target.numpy()[whole].astype(np.float64) - start
    residual = x - (x @ basis) @ basis.T
    return math.sqrt(float(np.mean(residual ** 2)))


def cubic_residual_rms(chunk: Chunk) -> float:
    """The rms error of cubic interpolation at the finest level (each odd point from the even
    points around it, along the axis where that is smallest), over the chunk's finite values:
    about what the interpolation coder's residual holds. inf where no axis has 8 points."""
    values = np.where(chunk.finite, chunk.array, np.nan).astype(np.float64)
    found = math.inf
    for axis, n in enumerate(values.shape):
        if n < 8:
            continue
        k = np.moveaxis(values, axis, 0)
        even, odd = k[0::2], k[1::2]
        m = min(len(even) - 3, len(odd) - 1)
        error = odd[1:m + 1] - (9 * (even[1:m + 1] + even[2:m + 2]) - even[:m] - even[3:m + 3]) / 16
        error = error[np.isfinite(error)]
        if error.size:
            found = min(found, math.sqrt(float(np.mean(error ** 2))))
    return found


def _rms(model, latents: np.ndarray, target: torch.Tensor, weight: torch.Tensor) -> float:
    """The network's rms error over the valid points of these patches (normalised units)."""
    import torch

    from ..nn.coords import grid
    from ..nn.fit import errors_in_batches

    mse = errors_in_batches(model.net, grid(model.patch_shape), torch.from_numpy(latents), target,
                            weight, batch_size(model)).double().numpy()
    counts = weight.sum(-1).double().numpy()
    return math.sqrt(float((mse * counts).sum() / counts.sum()))


def fit_patches(target: torch.Tensor, weight: torch.Tensor, model, inner_steps: int,
                quantizer: LatentQuantizer) -> np.ndarray:
    """Latents of patches ``target`` (B, N): a few meta-learned steps from the model's start,
    then the better of those and the same with their coefficients clipped to a few training
    spreads. A patch that is mostly padding or NaN has few points to fit, and a few steps can
    overshoot far beyond anything seen in training: clipping took one A1B corner patch from
    0.66 to 0.05 mean squared error."""
    import torch

    from ..nn.coords import grid
    from ..nn.fit import errors_in_batches, fit_in_batches

    if len(target) == 0:
        return np.zeros((0, model.net.latent_dim), np.float32)
    coords = grid(model.patch_shape)
    fitted = fit_in_batches(model.net, model.step_sizes, coords, target, weight, inner_steps,
                            batch_size(model), model.linearisation).numpy()
    coefficients = quantizer.coefficients(fitted)
    # Only patches that some clip would change are worth the extra forward passes.
    moved = np.flatnonzero((np.abs(coefficients) > min(CLIPS) * quantizer.std).any(-1))
    if len(moved) == 0:
        return fitted
    candidates = [fitted[moved]] + [quantizer.latents(np.clip(coefficients[moved], -k * quantizer.std,
                                                              k * quantizer.std)) for k in CLIPS]
    errors = torch.stack([errors_in_batches(model.net, coords, torch.from_numpy(c),
                                            target[moved], weight[moved], batch_size(model))
                          for c in candidates])
    best = fitted.copy()
    best[moved] = np.stack(candidates)[errors.argmin(0).numpy(), np.arange(len(moved))]
    return best


def batch_size(model) -> int:
    """Patches per forward pass: a model file may have patches of 2**16 points and width 1024,
    whose activations take 32 MiB a patch (model.py's limits)."""
    return max(1, min(PATCH_BATCH, ACTIVATIONS // (math.prod(model.patch_shape) * model.net.width)))


def latent_fields(chunk: Chunk, quantizer: LatentQuantizer, symbols: np.ndarray) -> dict:
    """The Container fields of a chunk whose latents are ``symbols``."""
    return dict(latent_bits=quantizer.bits, latent_fraction=quantizer.fraction,
                normalisation=chunk.norm, latents=encode_symbols(symbols, quantizer), **chunk.header)


def least_latent_bytes(shape: tuple[int, ...], model, quantizer: LatentQuantizer,
                       gated: bool = False) -> float:
    """The fewest bytes the latents of a chunk of ``shape`` can take: every patch's latents take
    at least their most probable symbols' bits (a gated patch, its count's), less what a cut
    stream may fall short. A reader refuses fewer; an encoder fits no network whose latents
    alone would outweigh what the classic coders stored."""
    least = (math.log2(model.latent_dim + 1) if gated
             else least_code_bits(quantizer))
    n_patches = count_patches(shape, model.patch_shape)
    return (SHORTFALL_SHARE * n_patches * least - SHORTFALL_BITS) / 8


def symbols_of(c: Container, model) -> tuple[LatentQuantizer, np.ndarray, np.ndarray | None]:
    """(quantizer, symbols, which each patch kept or None) of a chunk with latents."""
    quantizer = model.quantizer(c.latent_bits, c.latent_fraction, headroom=c.latent_headroom)
    n_patches = count_patches(c.shape, model.patch_shape)
    # Work in proportion to what a reader was given: a few bytes claiming a huge shape are
    # refused before anything is decoded or allocated.
    if len(c.latents) < least_latent_bytes(c.shape, model, quantizer, c.gated):
        raise ContainerError(f"corrupted inrcodec chunk: {len(c.latents)} bytes of latents cannot "
                             f"hold the {n_patches} patches of shape {c.shape}")
    if c.gated:
        return (quantizer, *decode_gated(c.latents, n_patches, quantizer))
    return quantizer, decode_symbols(c.latents, n_patches, quantizer,
                                     little_endian_words=c.little_endian_words), None


def quantized_values(model, quantizer: LatentQuantizer, symbols: np.ndarray, shape: tuple[int, ...],
                     norm: Normalisation, kept: np.ndarray | None = None,
                     exact: bool = False) -> np.ndarray:
    """The network's values (float64) on a chunk of ``shape`` from its latents' ``symbols``
    (where ``kept`` says so; a dropped latent is zero). A linear model's are the same on every
    machine by construction (linear.py); a SIREN's, with ``exact``, to ~1e-15."""
    if model.linear:
        symbols = symbols if kept is None else np.where(kept, symbols, 0)
        return model.chunk_values(symbols, quantizer.step, shape, norm)
    latents = quantizer.dequantize(symbols)
    if kept is not None:
        latents = np.where(kept, latents, np.float32(0))
    return predict(model, latents, shape, norm, exact)


def prediction_of(c: Container, model, exact: bool = False) -> np.ndarray:
    """The network's values (float64) of a chunk with latents, as stored."""
    quantizer, symbols, kept = symbols_of(c, model)
    return quantized_values(model, quantizer, symbols, c.shape, c.normalisation, kept, exact)


def predict(model, latents: np.ndarray, shape: tuple[int, ...], norm: Normalisation,
            exact: bool = False) -> np.ndarray:
    """The network's values (float64) on a chunk of ``shape``; ``exact`` evaluates in float64,
    which error-bounded chunks need so that another machine predicts the same to ~1e-15."""
    import torch

    from ..nn.coords import grid

    net = model.net64 if exact else model.net
    dtype = torch.float64 if exact else torch.float32
    coords = grid(model.patch_shape).to(dtype)
    latents = torch.from_numpy(latents).to(dtype)
    with torch.no_grad():
        batch = batch_size(model)
        patches = torch.cat([net(coords, latents[i:i + batch]) for i in range(0, len(latents), batch)])
    return norm.invert(from_patches(patches.numpy(), shape, model.patch_shape))


def decode(c: Container, model, finite: np.ndarray) -> np.ndarray:
    """The network's reconstruction of a chunk of kind LATENTS."""
    return cast(prediction_of(c, model), c.dtype)
