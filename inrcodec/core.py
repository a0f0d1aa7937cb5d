"""encode(chunk) -> bytes and decode(bytes) -> chunk: the one place that joins nn/ and coding/.

Encode: validate -> normalise (stored) -> cut into patches (padding and NaNs are "don't care")
-> fit the latents from the meta-learned start -> quantize -> entropy-code -> container.
Decode runs the same steps backwards and evaluates the base network on the chunk's grid.
"""

import numpy as np
import torch

from . import budget
from .coding import residual
from .coding.container import DTYPES, MAX_BYTES, MAX_NDIM, Container, ContainerError, Kind
from .coding.entropy import decode_gated, decode_symbols, encode_symbols, rate_distortion_symbols
from .coding.mask import decode_mask, encode_mask
from .coding.normalise import Normalisation
from .coding.quantize import HEADROOM, MAX_BITS, LatentQuantizer
from .model import Model
from .nn.coords import grid
from .nn.fit import errors_in_batches, fit_in_batches
from .patches import count_patches, from_patches, to_patches

PATCH_BATCH = 256  # patches per forward pass: bounds memory on large chunks
CLIPS = (8.0, 4.0)  # in training spreads: a patch whose coefficients exceed 4 also tries these
MAX_INNER_STEPS = 1000


def validate(chunk: np.ndarray, model: Model) -> np.ndarray:
    """The chunk as an ndarray the codec can store, or a clear error saying why not."""
    chunk = np.asanyarray(chunk)
    if isinstance(chunk, np.ma.MaskedArray):
        raise TypeError("masked arrays are not supported: fill masked values with NaN first")
    if chunk.dtype.kind + str(chunk.dtype.itemsize) not in DTYPES:
        raise TypeError(f"inrcodec stores float16/32/64 and integer arrays, not {chunk.dtype}; "
                        "convert the data (e.g. .astype('float32')) first")
    if chunk.ndim > MAX_NDIM:
        raise ValueError(f"inrcodec stores arrays of up to {MAX_NDIM} dimensions, not {chunk.ndim}")
    if chunk.ndim and chunk.ndim < model.ndim:
        raise ValueError(f"the model fits {model.ndim}-D patches; a {chunk.ndim}-D chunk needs "
                         f"a model of at most {chunk.ndim} dimensions")
    if chunk.nbytes > MAX_BYTES:
        raise ValueError(f"chunk of {chunk.nbytes / 2**30:.1f} GiB: inrcodec stores chunks of at "
                         f"most {MAX_BYTES / 2**30:.0f} GiB; use smaller chunks")
    if chunk.dtype.kind in "iu" and chunk.dtype.itemsize == 8 and chunk.size and (
            chunk.max() > 2 ** 53 or chunk.min() < -2 ** 53):
        raise ValueError("64-bit integers beyond +-2**53 are not stored exactly enough by "
                         "inrcodec's float64 arithmetic: store them losslessly instead")
    if chunk.dtype.kind == "f" and np.isinf(chunk).any():
        raise ValueError("chunk contains +-Inf, which a lossy codec cannot represent: replace "
                         "infinite values (with NaN to mark them missing) before compressing")
    return chunk


def encode(chunk: np.ndarray, model: Model, latent_bits: float, inner_steps: int,
           max_error: float | None = None, relative_error: float | None = None,
           bits_per_value: float | None = None) -> bytes:
    """The chunk's bytes. With ``max_error`` (absolute) or ``relative_error`` (a fraction of the
    chunk's value range), every finite value decodes within that bound (see residual.py).
    ``latent_bits`` may be a multiple of 1/16 (see quantize.py). With
    ``bits_per_value``, the chunk takes at most that many bits per value, header included (see
    budget.py), and ``latent_bits`` is chosen per chunk."""
    chunk = validate(chunk, model)
    fortran = chunk.ndim > 1 and chunk.flags.f_contiguous and not chunk.flags.c_contiguous
    header = dict(dtype=chunk.dtype, shape=chunk.shape, fortran_order=fortran)
    finite = np.isfinite(chunk) if chunk.dtype.kind == "f" else np.ones(chunk.shape, bool)
    mask = None if finite.all() else encode_mask(~finite)
    if not finite.any():
        return Container(kind=Kind.EMPTY, **header).to_bytes(model.hash)
    values = chunk[finite]
    if values.min() == values.max():
        return Container(kind=Kind.CONSTANT, constant=values[:1].tobytes(), mask=mask,
                         **header).to_bytes(model.hash)

    norm = Normalisation.fit(values)
    normalised = np.where(finite, norm.apply(np.where(finite, chunk, 0)), 0.0).astype(np.float32)
    target = torch.from_numpy(to_patches(normalised, model.patch_shape))
    weight = torch.from_numpy(to_patches(finite.astype(np.float32), model.patch_shape))
    coords = grid(model.patch_shape)
    if bits_per_value is not None:
        return _encode_to_budget(chunk.size * bits_per_value, model, coords, target, weight,
                                 inner_steps, dict(normalisation=norm, mask=mask, **header))
    latents = fit_in_batches(model.net, model.step_sizes, coords, target, weight, inner_steps,
                             PATCH_BATCH)
    quantizer = model.quantizer(*LatentQuantizer.resolution(latent_bits))
    fitted = _best_clipped(model, quantizer, latents, coords, target, weight)
    bounded = max_error is not None or relative_error is not None
    # Residuals pay for every error of a bounded chunk's prediction (measured: 1-3% more bytes at
    # bounds of 0.05-0.5 K on A1B with rate-distortion symbols), so it keeps nearest rounding.
    symbols = quantizer.quantize(fitted) if bounded else rate_distortion_symbols(fitted, quantizer)
    fields = dict(latent_bits=quantizer.bits, latent_fraction=quantizer.fraction,
                  normalisation=norm, mask=mask,
                  payload=encode_symbols(symbols, quantizer), **header)
    if not bounded:
        return Container(kind=Kind.LATENTS, **fields).to_bytes(model.hash)

    exact = values.astype(np.float64)
    bound = max_error if max_error is not None else relative_error * (exact.max() - exact.min())
    magnitude = _magnitude(norm)
    half = residual.half_step(bound, chunk.dtype, magnitude)
    if not half > 0:
        raise ValueError(f"an error bound of {bound:.3g} is below the resolution of "
                         f"{chunk.dtype} data of this magnitude: store it losslessly instead")
    prediction = _predict(model, quantizer.dequantize(symbols), chunk.shape, norm, exact=True)
    residuals, exceptions = residual.quantize(exact, prediction[finite], half, bound, magnitude,
                                              chunk.dtype, lambda v: _cast(v, chunk.dtype))
    coded = residual.encode(residuals, exceptions, values[exceptions])
    return Container(kind=Kind.BOUNDED, max_error=bound, residuals=coded,
                     **fields).to_bytes(model.hash)


def _best_clipped(model: Model, quantizer: LatentQuantizer, latents: torch.Tensor, coords,
                  target, weight) -> np.ndarray:
    """Each patch's fitted latents, or the same with their coefficients clipped to a few
    training spreads, whichever fits the patch better. A patch that is mostly padding or NaN
    has few points to fit, and a few meta-learned steps can overshoot far beyond anything seen in
    training: clipping took one A1B corner patch from 0.66 to 0.05 mean squared error."""
    fitted = latents.numpy()
    coefficients = quantizer.coefficients(fitted)
    # Only patches that some clip would change are worth the extra forward passes.
    moved = np.flatnonzero((np.abs(coefficients) > min(CLIPS) * quantizer.std).any(-1))
    if len(moved) == 0:
        return fitted
    candidates = [fitted[moved]] + [quantizer.latents(np.clip(coefficients[moved], -k * quantizer.std,
                                                              k * quantizer.std)) for k in CLIPS]
    errors = torch.stack([errors_in_batches(model.net, coords, torch.from_numpy(c),
                                            target[moved], weight[moved], PATCH_BATCH)
                          for c in candidates])
    best = fitted.copy()
    best[moved] = np.stack(candidates)[errors.argmin(0).numpy(), np.arange(len(moved))]
    return best


def _encode_to_budget(budget_bits: float, model: Model, coords, target, weight, inner_steps: int,
                      fields: dict) -> bytes:
    empty = Container(kind=Kind.LATENTS, latent_bits=MAX_BITS, **fields)
    overhead = len(empty.to_bytes(model.hash))
    payload_bytes = int(budget_bits // 8) - overhead
    if payload_bytes < 1:
        raise ValueError(f"a budget of {budget_bits / target.numel():.3g} bits per value leaves "
                         f"nothing for the data once this chunk's {overhead}-byte header, mask "
                         "and checksum are paid: give a larger budget or use larger chunks")
    quantizer, payload, gated = budget.fit_to_budget(model, coords, target, weight, inner_steps,
                                                     payload_bytes)
    return Container(kind=Kind.LATENTS, gated=gated, latent_bits=quantizer.bits,
                     latent_fraction=quantizer.fraction, payload=payload,
                     **fields).to_bytes(model.hash)


def decode(data: bytes, model: Model) -> np.ndarray:
    c = Container.from_bytes(data, model.hash)
    size = int(np.prod(c.shape))
    missing = decode_mask(c.mask, size).reshape(c.shape) if c.mask is not None else None
    if c.kind == Kind.EMPTY and size == 0:
        out = np.empty(c.shape, dtype=c.dtype)
    elif c.kind == Kind.EMPTY:
        if c.dtype.kind != "f":
            raise ContainerError("corrupted inrcodec chunk: an all-NaN chunk of integers")
        out = np.full(c.shape, np.nan, dtype=c.dtype)
    elif c.kind == Kind.CONSTANT:
        out = np.full(c.shape, np.frombuffer(c.constant, c.dtype)[0], dtype=c.dtype)
    else:
        if len(c.shape) < model.ndim:
            raise ContainerError(f"corrupted inrcodec chunk: shape {c.shape} cannot hold "
                                 f"{model.ndim}-D patches")
        quantizer = model.quantizer(c.latent_bits, c.latent_fraction,
                                    headroom=HEADROOM if c.version >= 3 else 0)
        n_patches = count_patches(c.shape, model.patch_shape)
        if c.gated:
            symbols, kept = decode_gated(c.payload, n_patches, quantizer)
            latents = np.where(kept, quantizer.dequantize(symbols), np.float32(0))
        else:
            latents = quantizer.dequantize(decode_symbols(c.payload, n_patches, quantizer,
                                                          little_endian_words=c.version == 1))
        bounded = c.kind == Kind.BOUNDED
        values = _predict(model, latents, c.shape, c.normalisation, exact=bounded)
        out = _cast(values, c.dtype)
        if bounded:
            finite = ~missing if missing is not None else np.ones(c.shape, bool)
            magnitude = _magnitude(c.normalisation)
            half = residual.half_step(c.max_error, c.dtype, magnitude)
            symbols, exceptions, exact = residual.decode(c.residuals, int(finite.sum()), c.dtype)
            kept = _cast(residual.reconstruct(values[finite], symbols, half), c.dtype)
            kept[exceptions] = exact
            out[finite] = kept
    if missing is not None:
        if c.dtype.kind != "f":
            raise ContainerError("corrupted inrcodec chunk: a NaN mask on integer data")
        out[missing] = np.nan
    return np.asfortranarray(out) if c.fortran_order else out


def _predict(model: Model, latents: np.ndarray, shape: tuple[int, ...], norm: Normalisation,
             exact: bool = False) -> np.ndarray:
    """The network's values (float64) on a chunk of ``shape``; ``exact`` evaluates in float64,
    which error-bounded chunks need so that another machine predicts the same to ~1e-15."""
    net = model.net64 if exact else model.net
    dtype = torch.float64 if exact else torch.float32
    coords = grid(model.patch_shape).to(dtype)
    latents = torch.from_numpy(latents).to(dtype)
    with torch.no_grad():
        patches = torch.cat([net(coords, latents[i:i + PATCH_BATCH])
                             for i in range(0, len(latents), PATCH_BATCH)])
    return norm.invert(from_patches(patches.numpy(), shape, model.patch_shape))


def _magnitude(norm: Normalisation) -> float:
    """A bound on the values' magnitude that encoder and decoder derive alike (for slack)."""
    return abs(norm.offset) + 16.0 * norm.scale


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values in ``dtype``: integers rounded and clipped to their range, floats kept finite."""
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    if dtype.kind in "iu":
        values = np.rint(values)
    return np.clip(values, info.min, info.max).astype(dtype)
